/// The complete configuration a PoP serves, at one revision: what the control plane hands to every data-plane
/// node. A plain, versioned, serialisable value so a remote PoP can receive it as JSON.
public struct ConfigSnapshot: Codable, Sendable, Equatable {
    /// Version of this format; a PoP refuses snapshots of a version it does not know.
    public static let formatVersion = 1

    public var formatVersion = ConfigSnapshot.formatVersion
    public var revision: Int64
    public var accelerators: [AcceleratorConfig]
    public var listeners: [ListenerConfig]
    public var endpointGroups: [EndpointGroupConfig]
    public var endpoints: [EndpointConfig]
    public var healthChecks: [HealthCheckConfig]
    /// Allow (`WHITE`) or deny (`BLACK`) lists of listeners, from IP groups.
    public var accessControls: [AccessControlConfig]
    /// Access-log sinks of listeners, from logtanks.
    public var logSinks: [LogSinkConfig]

    public init(
        revision: Int64,
        accelerators: [AcceleratorConfig] = [],
        listeners: [ListenerConfig] = [],
        endpointGroups: [EndpointGroupConfig] = [],
        endpoints: [EndpointConfig] = [],
        healthChecks: [HealthCheckConfig] = [],
        accessControls: [AccessControlConfig] = [],
        logSinks: [LogSinkConfig] = []
    ) {
        self.revision = revision
        self.accelerators = accelerators
        self.listeners = listeners
        self.endpointGroups = endpointGroups
        self.endpoints = endpoints
        self.healthChecks = healthChecks
        self.accessControls = accessControls
        self.logSinks = logSinks
    }

    public struct LogSinkConfig: Codable, Sendable, Equatable {
        public var listenerID: String
        public var logGroupID: String
        public var logStreamID: String

        public init(listenerID: String, logGroupID: String, logStreamID: String) {
            self.listenerID = listenerID
            self.logGroupID = logGroupID
            self.logStreamID = logStreamID
        }
    }

    public struct AccessControlConfig: Codable, Sendable, Equatable {
        public var listenerID: String
        /// `WHITE` admits only sources in `cidrs`; `BLACK` refuses them.
        public var type: AccessControlType
        public var cidrs: [String]

        public init(listenerID: String, type: AccessControlType, cidrs: [String]) {
            self.listenerID = listenerID
            self.type = type
            self.cidrs = cidrs
        }
    }

    public struct AcceleratorConfig: Codable, Sendable, Equatable {
        public var id: String
        public var addresses: [String]

        public init(id: String, addresses: [String]) {
            self.id = id
            self.addresses = addresses
        }
    }

    public struct ListenerConfig: Codable, Sendable, Equatable {
        public var id: String
        public var acceleratorID: String
        /// `TCP` or `UDP`.
        public var `protocol`: ListenerProtocol
        public var portRanges: [PortRange]
        /// `NONE` or `SOURCE_IP`.
        public var clientAffinity: ClientAffinity

        public init(id: String, acceleratorID: String, protocol: ListenerProtocol, portRanges: [PortRange], clientAffinity: ClientAffinity) {
            self.id = id
            self.acceleratorID = acceleratorID
            self.protocol = `protocol`
            self.portRanges = portRanges
            self.clientAffinity = clientAffinity
        }
    }

    public struct EndpointGroupConfig: Codable, Sendable, Equatable {
        public var id: String
        public var listenerID: String
        public var regionID: String
        public var trafficDialPercentage: Int

        public init(id: String, listenerID: String, regionID: String, trafficDialPercentage: Int) {
            self.id = id
            self.listenerID = listenerID
            self.regionID = regionID
            self.trafficDialPercentage = trafficDialPercentage
        }
    }

    public struct EndpointConfig: Codable, Sendable, Equatable {
        public var id: String
        public var groupID: String
        /// An IP address, or a domain name for `CUSTOM_DOMAIN_NAME` endpoints.
        public var address: String
        public var weight: Int

        public init(id: String, groupID: String, address: String, weight: Int) {
            self.id = id
            self.groupID = groupID
            self.address = address
            self.weight = weight
        }
    }

    public struct HealthCheckConfig: Codable, Sendable, Equatable {
        public var id: String
        public var groupID: String
        public var `protocol`: ListenerProtocol
        public var port: Int
        public var interval: Int
        public var timeout: Int
        public var maxRetries: Int
        public var enabled: Bool

        public init(
            id: String,
            groupID: String,
            protocol: HealthCheckProtocol,
            port: Int,
            interval: Int,
            timeout: Int,
            maxRetries: Int,
            enabled: Bool
        ) {
            self.id = id
            self.groupID = groupID
            self.protocol = `protocol`
            self.port = port
            self.interval = interval
            self.timeout = timeout
            self.maxRetries = maxRetries
            self.enabled = enabled
        }
    }
}

/// What a PoP reports back: the revision it serves, what failed to apply, and what its health checker sees.
public struct PoPReport: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public var formatVersion = PoPReport.formatVersion
    public var popID: String
    public var regionID: String
    /// The snapshot revision the PoP now serves.
    public var appliedRevision: Int64
    /// Resources that could not be applied (a port in use, an address that cannot be bound).
    public var errors: [ApplyError]
    /// Health of every endpoint of the applied snapshot.
    public var health: [EndpointHealth]
    /// Why the PoP refused the newest snapshot it was sent (a `formatVersion` it does not read); nil when it
    /// refused none. It keeps serving `appliedRevision`.
    public var refusal: String?

    public init(
        popID: String,
        regionID: String,
        appliedRevision: Int64,
        errors: [ApplyError],
        health: [EndpointHealth],
        refusal: String? = nil
    ) {
        self.popID = popID
        self.regionID = regionID
        self.appliedRevision = appliedRevision
        self.errors = errors
        self.health = health
        self.refusal = refusal
    }

    public struct ApplyError: Codable, Sendable, Equatable, Hashable {
        public var kind: ResourceKind
        public var id: String
        public var message: String

        public init(kind: ResourceKind, id: String, message: String) {
            self.kind = kind
            self.id = id
            self.message = message
        }
    }

    public struct EndpointHealth: Codable, Sendable, Equatable {
        public var endpointID: String
        public var state: HealthState

        public init(endpointID: String, state: HealthState) {
            self.endpointID = endpointID
            self.state = state
        }
    }
}

/// A data-plane node as the control plane drives it. The embedded PoP implements it in-process; a remote PoP
/// will implement it over the network with the same values.
public protocol PoP: Sendable {
    /// Makes the node serve `snapshot` and reports the outcome.
    func apply(_ snapshot: ConfigSnapshot) async -> PoPReport
    /// The node's current report (health changes between applies).
    func report() async -> PoPReport
}
