import NIOConcurrencyHelpers
import SlipstreamCore

/// Where one new flow may go: the endpoint to try first, then the ones to fall back to.
public struct EndpointTarget: Sendable, Equatable {
    public var endpointID: String
    public var groupID: String
    public var address: String
}

/// The traffic decisions of one listener (DESIGN.md, "Traffic decisions"): local group by traffic dial, then
/// smooth weighted round-robin (affinity `NONE`) or weighted Maglev on the client address (`SOURCE_IP`) over
/// eligible endpoints, failing open to every weighted endpoint when none is eligible.
///
/// One router serves every socket of a listener; its plan is swapped when the configuration changes, and its
/// balancing state is kept for groups whose endpoints did not change.
public final class ListenerRouter: @unchecked Sendable {
    /// The configuration a router decides from.
    public struct Plan: Sendable, Equatable {
        public struct Group: Sendable, Equatable {
            public var id: String
            public var isLocal: Bool
            public var trafficDialPercentage: Int
            public var endpoints: [ConfigSnapshot.EndpointConfig]
        }
        /// An IP group bound to the listener: `allow` (WHITE) admits only sources in `blocks`, otherwise (BLACK)
        /// sources in `blocks` are refused.
        public struct AccessControl: Sendable, Equatable {
            public var allow: Bool
            public var blocks: [CIDR]

            public init(allow: Bool, blocks: [CIDR]) {
                self.allow = allow
                self.blocks = blocks
            }
        }
        public var listenerID: String
        public var sourceIPAffinity: Bool
        public var groups: [Group]
        public var accessControl: AccessControl?
        /// Where finished flows are logged, when the listener has a logtank.
        public var logSink: LogSink?

        public init(listenerID: String, sourceIPAffinity: Bool, groups: [Group], accessControl: AccessControl? = nil, logSink: LogSink? = nil) {
            self.listenerID = listenerID
            self.sourceIPAffinity = sourceIPAffinity
            self.groups = groups
            self.accessControl = accessControl
            self.logSink = logSink
        }
    }

    /// How many endpoints a flow may try.
    public static let maxAttempts = 3

    private let lock = NIOLock()
    private var plan: Plan
    private var balancers: [String: GroupBalancer] = [:]
    private var dial = SmoothWeightedRoundRobin(weights: [100, 0])
    private var remoteCursor = 0
    private let health: HealthBook

    public init(plan: Plan, health: HealthBook) {
        self.plan = plan
        self.health = health
        self.update(plan)
    }

    public func update(_ plan: Plan) {
        self.lock.withLock {
            self.plan = plan
            var balancers: [String: GroupBalancer] = [:]
            for group in plan.groups {
                if let existing = self.balancers[group.id], existing.endpoints == group.endpoints {
                    balancers[group.id] = existing
                } else {
                    balancers[group.id] = GroupBalancer(endpoints: group.endpoints)
                }
            }
            self.balancers = balancers
            let local = plan.groups.first(where: \.isLocal)?.trafficDialPercentage ?? 0
            if self.dial.weights != [local, 100 - local] {
                self.dial = SmoothWeightedRoundRobin(weights: [local, 100 - local])
            }
        }
    }

    public var listenerID: String { self.lock.withLock { self.plan.listenerID } }

    public var logSink: LogSink? { self.lock.withLock { self.plan.logSink } }

    /// Whether the listener's access control lets a new flow from `clientAddress` in.
    public func admits(clientAddress: String) -> Bool {
        guard let control = self.lock.withLock({ self.plan.accessControl }) else { return true }
        guard let address = IPAddress(clientAddress) else { return !control.allow }
        let listed = control.blocks.contains { $0.contains(address) }
        return control.allow ? listed : !listed
    }

    /// The endpoints a new flow from `clientAddress` should try, best first; empty when there is none.
    public func choose(clientAddress: String) -> [EndpointTarget] {
        self.lock.withLock {
            let local = self.plan.groups.filter(\.isLocal)
            let remote = self.plan.groups.filter { !$0.isLocal && self.hasWeightedEndpoint($0) }
            var order: [Plan.Group] = []
            let usableLocal = local.filter { self.hasWeightedEndpoint($0) }
            if usableLocal.isEmpty || remote.isEmpty {
                order = usableLocal + remote
            } else if self.dial.next(among: [0, 1]) == 0 {
                order = usableLocal + remote
            } else {
                let first = self.remoteCursor % remote.count
                self.remoteCursor &+= 1
                order = Array(remote[first...] + remote[..<first]) + usableLocal
            }
            var targets: [EndpointTarget] = []
            for group in order where targets.count < Self.maxAttempts {
                guard var balancer = self.balancers[group.id] else { continue }
                let picks = balancer.pick(
                    count: Self.maxAttempts - targets.count,
                    clientAddress: clientAddress,
                    sourceIPAffinity: self.plan.sourceIPAffinity,
                    health: self.health
                )
                self.balancers[group.id] = balancer
                targets += picks.map { EndpointTarget(endpointID: $0.id, groupID: group.id, address: $0.address) }
            }
            return targets
        }
    }

    private func hasWeightedEndpoint(_ group: Plan.Group) -> Bool {
        group.endpoints.contains { $0.weight > 0 }
    }
}

/// Balancing state of one endpoint group.
struct GroupBalancer {
    let endpoints: [ConfigSnapshot.EndpointConfig]
    private var roundRobin: SmoothWeightedRoundRobin
    private var maglev: (members: [Int], table: MaglevTable)?

    init(endpoints: [ConfigSnapshot.EndpointConfig]) {
        self.endpoints = endpoints
        self.roundRobin = SmoothWeightedRoundRobin(weights: endpoints.map(\.weight))
    }

    /// Up to `count` distinct endpoints for one flow.
    mutating func pick(count: Int, clientAddress: String, sourceIPAffinity: Bool, health: HealthBook) -> [ConfigSnapshot.EndpointConfig] {
        let weighted = self.endpoints.indices.filter { self.endpoints[$0].weight > 0 }
        let eligible = weighted.filter { health.state(of: self.endpoints[$0].id).acceptsTraffic }
        // Fail open: when no endpoint is eligible, every weighted endpoint is (documented).
        let members = eligible.isEmpty ? weighted : eligible
        guard !members.isEmpty else { return [] }
        var chosen: [Int] = []
        if sourceIPAffinity {
            if self.maglev?.members != members {
                let table = MaglevTable(names: members.map { self.endpoints[$0].id }, weights: members.map { self.endpoints[$0].weight })
                self.maglev = (members, table)
            }
            if let primary = self.maglev!.table.lookup(clientAddress) { chosen.append(members[primary]) }
            // Fall back in a fixed order after the client's own endpoint.
            for index in members where chosen.count < count && !chosen.contains(index) { chosen.append(index) }
        } else {
            var remaining = members
            while chosen.count < count, let next = self.roundRobin.next(among: remaining) {
                chosen.append(next)
                remaining.removeAll { $0 == next }
            }
        }
        return chosen.prefix(count).map { self.endpoints[$0] }
    }
}

extension HealthState {
    /// Endpoints that may get new flows while at least one endpoint of their group may.
    var acceptsTraffic: Bool { self == .healthy || self == .noMonitor }
}
