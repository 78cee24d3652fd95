/// What every managed resource's desired state (its spec) conforms to.
public protocol ResourceSpec: Codable, Sendable {
    static var kind: ResourceKind { get }
    /// What the resource counts for in the listener-port quota (GA's `listener_port_per_tenant`): a listener its
    /// ports, an accelerator its addresses (a listener holds ports × addresses); 0 for other kinds. Stored beside
    /// the spec so the quota is a sum in the store, not a decode of every listener.
    var quotaUnits: Int { get }
}

extension ResourceSpec {
    public var quotaUnits: Int { 0 }
}

/// A managed resource: the columns every kind shares plus its kind-specific spec.
public struct Resource<Spec: ResourceSpec>: Sendable {
    public var id: String
    public var domainID: String
    /// The owning resource: accelerator of a listener, listener of an endpoint group, endpoint group of an
    /// endpoint or health check; nil for accelerators.
    public var parentID: String?
    public var name: String?
    public var status: ResourceStatus
    /// Configuration revision of the last write to this resource.
    public var revision: Int64
    public var createdAt: String
    public var updatedAt: String
    /// Observed health of an endpoint as last reported by the data plane.
    public var healthState: HealthState?
    public var spec: Spec

    public init(
        id: String,
        domainID: String,
        parentID: String?,
        name: String?,
        status: ResourceStatus,
        revision: Int64,
        createdAt: String,
        updatedAt: String,
        healthState: HealthState? = nil,
        spec: Spec
    ) {
        self.id = id
        self.domainID = domainID
        self.parentID = parentID
        self.name = name
        self.status = status
        self.revision = revision
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.healthState = healthState
        self.spec = spec
    }
}

/// `FrozenInfo` as every detail object carries it; Slipstream never freezes resources.
public struct FrozenInfo: Codable, Sendable, Equatable {
    public var status: Int = 0
    public var effect: Int = 1
    public var scene: [String] = []

    public static let normal = FrozenInfo()
}

/// A `{key, value}` tag.
public struct ResourceTag: Codable, Sendable, Equatable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// Checks the rules a list of tags must follow beyond its schema: no empty and no duplicate keys.
    public static func check(_ tags: [ResourceTag]) throws(GAError) {
        var seen = Set<String>()
        for tag in tags {
            if tag.key.isEmpty { throw GAError.emptyTagKey }
            if !seen.insert(tag.key).inserted { throw GAError.duplicateTagKey }
        }
    }
}

/// A `{"id": …}` reference.
public struct IDReference: Codable, Sendable, Equatable {
    public var id: String

    public init(id: String) { self.id = id }
}
