import NIOCore
import SlipstreamModel

/// An endpoint as flows use it. Immutable; a class, so that a flow holds it with one reference count.
public final class PlannedEndpoint: Sendable {
    public let id: String
    /// The configured address or domain name, for logs.
    public let host: String
    /// The resolved address with port 0 (a flow sets the listener port); nil when a domain name did not resolve,
    /// and then the endpoint takes no flows.
    public let address: SocketAddress?
    public let weight: Int
    /// Whether health lets it take new flows (`HEALTHY` or `NO_MONITOR`).
    public let isHealthy: Bool
    public let stats: FlowStats

    public init(id: String, host: String, address: SocketAddress?, weight: Int, isHealthy: Bool, stats: FlowStats) {
        self.id = id
        self.host = host
        self.address = address
        self.weight = weight
        self.isHealthy = isHealthy
        self.stats = stats
    }

    /// Weight above 0 and an address to dial.
    var isWeighted: Bool { self.weight > 0 && self.address != nil }
}

/// An endpoint group as flows use it. Immutable; a class, so that a flow holds it with one reference count.
public final class PlannedGroup: Sendable {
    public let id: String
    public let isLocal: Bool
    /// `traffic_dial_percentage`, 0–100.
    public let trafficDial: Int
    public let endpoints: [PlannedEndpoint]
    /// Indexes into `endpoints` of the endpoints that take new flows when this group is routable.
    public let members: [Int]
    /// The weighted Maglev table over `members` (affinity `SOURCE_IP` only); its entries index `members`.
    let maglev: MaglevTable?
    /// Identifies the members and their weights; balancing state is kept while it stays the same.
    let balanceKey: Int

    init(id: String, isLocal: Bool, trafficDial: Int, endpoints: [PlannedEndpoint], members: [Int], sourceIPAffinity: Bool) {
        self.id = id
        self.isLocal = isLocal
        self.trafficDial = trafficDial
        self.endpoints = endpoints
        self.members = members
        self.maglev =
            sourceIPAffinity && !members.isEmpty
            ? MaglevTable(names: members.map { endpoints[$0].id }, weights: members.map { endpoints[$0].weight }) : nil
        var hasher = Hasher()
        for member in members {
            hasher.combine(endpoints[member].id)
            hasher.combine(endpoints[member].weight)
        }
        self.balanceKey = hasher.finalize()
    }
}

/// A listener's access control: `allow` (WHITE) admits only sources in `blocks`; otherwise (BLACK) sources in
/// `blocks` are refused.
public struct AccessRule: Sendable, Equatable {
    public let allow: Bool
    public let blocks: [CIDR]

    public init(allow: Bool, blocks: [CIDR]) {
        self.allow = allow
        self.blocks = blocks
    }

    public func admits(_ address: IPAddress?) -> Bool {
        guard let address else { return !self.allow }
        let listed = self.blocks.contains { $0.contains(address) }
        return self.allow ? listed : !listed
    }
}

/// One place a flow may go: an endpoint of a group of the plan.
public struct FlowTarget: Sendable, Equatable {
    public let group: Int
    public let endpoint: Int
}

/// One listener's configuration compiled for the per-flow path: typed, with parsed CIDRs, resolved endpoint
/// addresses, health folded into the routable sets, and the traffic decisions precomputed. Immutable: a change of
/// configuration or health compiles a new plan, which flows pick up through one atomic load.
///
/// Traffic decisions (README, "Data plane"):
/// - a group takes flows when its `traffic_dial_percentage` is above 0 and it has an endpoint with weight above 0;
/// - among those, the groups with an eligible endpoint (weight > 0 and `HEALTHY` or `NO_MONITOR`) are routable,
///   each with its eligible endpoints; when no group has one, every group that takes flows is routable with all its
///   weighted endpoints (fail open);
/// - the local group (the PoP's region) takes its dial's share of the flows when remote groups are routable too;
///   the rest go to the routable remote groups in turn; when the local group is not routable its share goes to the
///   remote ones, and when no remote group is, the local group takes every flow;
/// - within a group, affinity `NONE` picks by smooth weighted round-robin, `SOURCE_IP` by a weighted Maglev table
///   on the client address. Only the first pick moves balancing state; the fallbacks a flow may try after a
///   failed connect come from a read-only order.
public final class ListenerPlan: Sendable {
    public let listenerID: String
    public let isUDP: Bool
    public let sourceIPAffinity: Bool
    public let access: AccessRule?
    public let logSink: LogSink?
    public let groups: [PlannedGroup]
    /// The routable local group, if any.
    public let local: Int?
    /// The routable remote groups.
    public let remotes: [Int]
    /// True when no group has an eligible endpoint and the plan routes to weighted endpoints regardless of health.
    public let failsOpen: Bool

    /// How many endpoints one flow may try.
    public static let maxAttempts = 3

    public init(
        listenerID: String,
        isUDP: Bool,
        sourceIPAffinity: Bool,
        access: AccessRule?,
        logSink: LogSink?,
        groups: [(id: String, isLocal: Bool, trafficDial: Int, endpoints: [PlannedEndpoint])]
    ) {
        self.listenerID = listenerID
        self.isUDP = isUDP
        self.sourceIPAffinity = sourceIPAffinity
        self.access = access
        self.logSink = logSink
        let takesFlows = groups.map { $0.trafficDial > 0 && $0.endpoints.contains(where: \.isWeighted) }
        let hasEligible = groups.indices.map { takesFlows[$0] && groups[$0].endpoints.contains { $0.isWeighted && $0.isHealthy } }
        let failsOpen = !hasEligible.contains(true)
        self.failsOpen = failsOpen && takesFlows.contains(true)
        var planned: [PlannedGroup] = []
        var routable: [Int] = []
        for (index, group) in groups.enumerated() {
            let isRoutable = failsOpen ? takesFlows[index] : hasEligible[index]
            let members =
                isRoutable
                ? group.endpoints.indices.filter { group.endpoints[$0].isWeighted && (failsOpen || group.endpoints[$0].isHealthy) } : []
            if isRoutable { routable.append(index) }
            planned.append(
                PlannedGroup(
                    id: group.id,
                    isLocal: group.isLocal,
                    trafficDial: group.trafficDial,
                    endpoints: group.endpoints,
                    members: members,
                    sourceIPAffinity: sourceIPAffinity
                )
            )
        }
        self.groups = planned
        self.local = routable.first { planned[$0].isLocal }
        self.remotes = routable.filter { !planned[$0].isLocal }
    }

    /// Whether any flow can be served.
    public var isRoutable: Bool { self.local != nil || !self.remotes.isEmpty }

    /// Whether the access rule lets a flow from `client` in.
    public func admits(_ client: IPAddress?) -> Bool {
        self.access?.admits(client) ?? true
    }

    /// The endpoints a new flow from `client` should try, best first (at most ``maxAttempts``); empty when no group
    /// can take it. `state` is the calling event loop's balancing state.
    public func choose(client: IPAddress?, state: LoopBalancer) -> [FlowTarget] {
        var targets: [FlowTarget] = []
        targets.reserveCapacity(Self.maxAttempts)
        guard let local = self.local else {
            for (position, index) in state.rotated(self.remotes).enumerated() where targets.count < Self.maxAttempts {
                self.append(index, client: client, state: state, isFirst: position == 0, to: &targets)
            }
            return targets
        }
        if self.remotes.isEmpty {
            self.append(local, client: client, state: state, isFirst: true, to: &targets)
            return targets
        }
        let groupOrder = state.takeLocal(dial: self.groups[local].trafficDial) ? [local] + self.remotes : state.rotated(self.remotes) + [local]
        for (position, index) in groupOrder.enumerated() where targets.count < Self.maxAttempts {
            self.append(index, client: client, state: state, isFirst: position == 0, to: &targets)
        }
        return targets
    }

    /// Appends members of group `index` to `targets`, best first, until it holds ``maxAttempts``. Only the first
    /// group's first pick moves `state`.
    private func append(_ index: Int, client: IPAddress?, state: LoopBalancer, isFirst: Bool, to targets: inout [FlowTarget]) {
        let group = self.groups[index]
        let count = group.members.count
        let limit = min(count, Self.maxAttempts - targets.count)
        guard limit > 0 else { return }
        if let maglev = group.maglev {
            for member in maglev.lookup(hash: Self.hash(client), distinct: limit) {
                targets.append(FlowTarget(group: index, endpoint: group.members[member]))
            }
            return
        }
        let start = isFirst ? state.nextPick(group: group) ?? 0 : 0
        for offset in 0..<limit {
            targets.append(FlowTarget(group: index, endpoint: group.members[(start + offset) % count]))
        }
    }

    /// A well-mixed hash of a client address (the affinity key).
    static func hash(_ client: IPAddress?) -> UInt64 {
        switch client {
        case .v4(let value): MaglevTable.mix(UInt64(value))
        case .v6(let value): MaglevTable.mix(UInt64(truncatingIfNeeded: value) ^ MaglevTable.mix(UInt64(truncatingIfNeeded: value >> 64)))
        case nil: 0
        }
    }
}

extension HealthState {
    /// Endpoints that may get new flows while at least one endpoint of their listener may.
    var acceptsTraffic: Bool { self == .healthy || self == .noMonitor }
}
