import SlipstreamModel

/// `AcceleratorDetail` as the API returns it.
public struct AcceleratorDetail: Encodable, Sendable {
    public var id: String
    public var name: String
    public var description: String
    public var status: ResourceStatus
    public var ipSets: [AcceleratorIP]
    public var createdAt: String
    public var updatedAt: String
    public var domainID: String
    public var enterpriseProjectID: String
    public var flavorID: String
    public var frozenInfo = FrozenInfo.normal
    public var tags: [ResourceTag]

    public init(_ resource: Accelerator) {
        self.id = resource.id
        self.name = resource.name ?? ""
        self.description = resource.spec.description
        self.status = resource.status
        self.ipSets = resource.spec.ipSets
        self.createdAt = resource.createdAt
        self.updatedAt = resource.updatedAt
        self.domainID = resource.domainID
        self.enterpriseProjectID = resource.spec.enterpriseProjectID
        self.flavorID = resource.spec.flavorID
        self.tags = resource.spec.tags
    }
}

/// `EndpointDetail` as the API returns it.
public struct EndpointDetail: Encodable, Sendable {
    public var id: String
    public var resourceID: String
    public var endpointGroupID: String
    public var resourceType: EndpointType
    public var status: ResourceStatus
    public var weight: Int
    public var healthState: HealthState
    public var createdAt: String
    public var updatedAt: String
    public var domainID: String
    public var ipAddress: String
    public var frozenInfo = FrozenInfo.normal

    public init(_ resource: Endpoint) {
        self.id = resource.id
        self.resourceID = resource.spec.resourceID
        self.endpointGroupID = resource.parentID ?? ""
        self.resourceType = resource.spec.resourceType
        self.status = resource.status
        self.weight = resource.spec.weight
        self.healthState = resource.healthState ?? .noMonitor
        self.createdAt = resource.createdAt
        self.updatedAt = resource.updatedAt
        self.domainID = resource.domainID
        self.ipAddress = resource.spec.ipAddress
    }
}

/// `EndpointGroupDetail` as the API returns it.
public struct EndpointGroupDetail: Encodable, Sendable {
    public var id: String
    public var name: String
    public var description: String
    public var status: ResourceStatus
    public var trafficDialPercentage: Int
    public var regionID: String
    public var listeners: [IDReference]
    public var createdAt: String
    public var updatedAt: String
    public var domainID: String
    public var frozenInfo = FrozenInfo.normal

    public init(_ resource: EndpointGroup) {
        self.id = resource.id
        self.name = resource.name ?? ""
        self.description = resource.spec.description
        self.status = resource.status
        self.trafficDialPercentage = resource.spec.trafficDialPercentage
        self.regionID = resource.spec.regionID
        self.listeners = resource.parentID.map { [IDReference(id: $0)] } ?? []
        self.createdAt = resource.createdAt
        self.updatedAt = resource.updatedAt
        self.domainID = resource.domainID
    }
}

/// `HealthCheckDetail` as the API returns it.
public struct HealthCheckDetail: Encodable, Sendable {
    public var id: String
    public var endpointGroupID: String
    public var `protocol`: HealthCheckProtocol
    public var status: ResourceStatus
    public var port: Int
    public var interval: Int
    public var timeout: Int
    public var maxRetries: Int
    public var createdAt: String
    public var updatedAt: String
    public var domainID: String
    public var enabled: Bool
    public var frozenInfo = FrozenInfo.normal

    public init(_ resource: HealthCheck) {
        self.id = resource.id
        self.endpointGroupID = resource.parentID ?? ""
        self.protocol = resource.spec.protocol
        self.status = resource.status
        self.port = resource.spec.port
        self.interval = resource.spec.interval
        self.timeout = resource.spec.timeout
        self.maxRetries = resource.spec.maxRetries
        self.createdAt = resource.createdAt
        self.updatedAt = resource.updatedAt
        self.domainID = resource.domainID
        self.enabled = resource.spec.enabled
    }
}

/// `IpGroupDetail` as the API returns it.
public struct IPGroupDetail: Encodable, Sendable {
    public var id: String
    public var name: String
    public var description: String
    public var status: ResourceStatus
    public var ipList: [IPGroupEntry]
    public var associatedListeners: [ListenerAccessControl]
    public var createdAt: String
    public var updatedAt: String

    public init(_ resource: IPGroup, onlyListener listenerID: String? = nil) {
        self.id = resource.id
        self.name = resource.name ?? ""
        self.description = resource.spec.description
        self.status = resource.status
        self.ipList = resource.spec.ipList
        self.associatedListeners = resource.spec.associatedListeners.filter { listenerID == nil || $0.listenerID == listenerID }
        self.createdAt = resource.createdAt
        self.updatedAt = resource.updatedAt
    }
}

/// `ListenerDetail` as the API returns it.
public struct ListenerDetail: Encodable, Sendable {
    public var id: String
    public var name: String
    public var description: String
    public var `protocol`: ListenerProtocol
    public var status: ResourceStatus
    public var portRanges: [PortRange]
    public var clientAffinity: ClientAffinity
    public var acceleratorID: String
    public var createdAt: String
    public var updatedAt: String
    public var domainID: String
    public var frozenInfo = FrozenInfo.normal
    public var tags: [ResourceTag]

    public init(_ resource: Listener) {
        self.id = resource.id
        self.name = resource.name ?? ""
        self.description = resource.spec.description
        self.protocol = resource.spec.protocol
        self.status = resource.status
        self.portRanges = resource.spec.portRanges
        self.clientAffinity = resource.spec.clientAffinity
        self.acceleratorID = resource.parentID ?? ""
        self.createdAt = resource.createdAt
        self.updatedAt = resource.updatedAt
        self.domainID = resource.domainID
        self.tags = resource.spec.tags
    }
}

/// `LogtankDetail` as the API returns it.
public struct LogtankDetail: Encodable, Sendable {
    public var id: String
    public var domainID: String
    public var projectID = "0"
    public var resourceType = "LISTENER"
    public var resourceID: String
    public var logGroupID: String
    public var logStreamID: String
    public var status: ResourceStatus
    public var createdAt: String
    public var updatedAt: String

    public init(_ resource: Logtank) {
        self.id = resource.id
        self.domainID = resource.domainID
        self.resourceID = resource.parentID ?? ""
        self.logGroupID = resource.spec.logGroupID
        self.logStreamID = resource.spec.logStreamID
        self.status = resource.status
        self.createdAt = resource.createdAt
        self.updatedAt = resource.updatedAt
    }
}
