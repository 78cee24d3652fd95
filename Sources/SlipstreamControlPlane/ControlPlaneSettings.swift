import SlipstreamModel

/// The operator's choices the control plane's rules depend on.
public struct ControlPlaneSettings: Sendable, Equatable {
    /// Address pools by `AREA/IP_TYPE` (for example `OUTOFCM/IPV4`); accelerators take their addresses from them.
    public var pools: [String: [CIDR]]
    /// The regions endpoint groups may be placed in.
    public var regions: [RegionInfo]
    public var quotas: Quotas
    /// A PoP whose last report is older than this is stale: it no longer holds resources back, its health views
    /// no longer count, and `GET /v1/pops` shows it `ERROR`. Remote PoPs report at least every 5 s.
    public var popStaleAfterMilliseconds: Int64 = 15_000

    /// The pool of an area and address family.
    public func pool(area: Area, ipType: IPType) -> [CIDR] {
        self.pools["\(area.rawValue)/\(ipType.rawValue)"] ?? []
    }

    public init(pools: [String: [CIDR]], regions: [RegionInfo], quotas: Quotas) {
        self.pools = pools
        self.regions = regions
        self.quotas = quotas
    }
}

/// A region endpoint groups may be placed in.
public struct RegionInfo: Sendable, Equatable, Encodable {
    public var regionID: String
    public var area: Area
    public var supportedEndpointTypes: [EndpointType]

    public static let allEndpointTypes = EndpointType.allCases

    public init(regionID: String, area: Area, supportedEndpointTypes: [EndpointType] = RegionInfo.allEndpointTypes) {
        self.regionID = regionID
        self.area = area
        self.supportedEndpointTypes = supportedEndpointTypes
    }
}

/// Per-account limits the write paths enforce (GA.9103) and `GET /v1/{domain_id}/ga/quotas` shows.
public struct Quotas: Sendable, Equatable {
    public var acceleratorsPerAccount = 20
    public var listenersPerAccelerator = 10
    public var endpointsPerGroup = 10
    public var ipGroupsPerAccount = 50
    /// Listener ports per account: the sum over its listeners of their ports times their accelerator's addresses,
    /// i.e. the listening sockets the data plane binds for the account.
    public var listenerPortsPerAccount = 2000

    public init() {}

    /// Every quota by its API name, with its limit. Entries per IP group and listeners per IP group are fixed,
    /// as in GA.
    public var all: [(type: String, limit: Int)] {
        [
            ("accelerator_per_tenant", self.acceleratorsPerAccount),
            ("listener_per_accelerator", self.listenersPerAccelerator),
            ("endpoint_per_endpoint_group", self.endpointsPerGroup),
            ("ip_group_per_tenant", self.ipGroupsPerAccount),
            ("listener_port_per_tenant", self.listenerPortsPerAccount),
            ("ip_per_ip_group", IPGroupSpec.maxEntries),
            ("listener_per_ip_group", IPGroupSpec.maxListeners),
        ]
    }
}

/// An operator-configured bring-your-own-IP pool.
public struct BYOIPPool: Sendable, Equatable {
    public var cidr: CIDR
    public var area: Area

    public init(cidr: CIDR, area: Area) {
        self.cidr = cidr
        self.area = area
    }
}
