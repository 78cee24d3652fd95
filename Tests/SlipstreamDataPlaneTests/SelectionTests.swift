import NIOCore
import SlipstreamModel
import Testing

@testable import SlipstreamDataPlane

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SmoothWeightedRoundRobinTests {
    @Test func honoursWeightsExactlyPerCycle() {
        var rr = SmoothWeightedRoundRobin(weights: [5, 1, 1])
        let picks = (0..<7).compactMap { _ in rr.next(among: [0, 1, 2]) }
        // nginx's documented sequence for 5/1/1: a a b a c a a.
        #expect(picks == [0, 0, 1, 0, 2, 0, 0])
        var counts = [0, 0, 0]
        for _ in 0..<700 { counts[rr.next(among: [0, 1, 2])!] += 1 }
        #expect(counts == [500, 100, 100])
    }

    @Test func skipsZeroWeightsAndExcludedPeers() {
        var rr = SmoothWeightedRoundRobin(weights: [3, 0, 2])
        let picks = (0..<50).compactMap { _ in rr.next(among: [0, 1, 2]) }
        #expect(!picks.contains(1))
        #expect(picks.filter { $0 == 0 }.count == 30)
        #expect((0..<10).compactMap { _ in rr.next(among: [2]) } == Array(repeating: 2, count: 10))
        #expect(rr.next(among: [1]) == nil)
        #expect(rr.next(among: []) == nil)
    }
}

@Suite struct MaglevTableTests {
    static let names = (0..<5).map { "endpoint-\($0)" }

    @Test func sharesFollowWeights() {
        let table = MaglevTable(names: ["a", "b"], weights: [3, 1])
        let share = Double(table.slots.filter { $0 == 0 }.count) / Double(table.slots.count)
        #expect(abs(share - 0.75) < 0.02)
        #expect(!table.slots.contains(-1))
    }

    @Test func sameKeySameBackendAndKeysSpread() {
        let table = MaglevTable(names: Self.names, weights: [1, 1, 1, 1, 1])
        let clients = (0..<1000).map { "10.0.\($0 / 256).\($0 % 256)" }
        let first = clients.map { table.lookup($0)! }
        #expect(first == clients.map { table.lookup($0)! })
        var counts = [Int](repeating: 0, count: 5)
        for backend in first { counts[backend] += 1 }
        #expect(counts.allSatisfy { $0 > 120 && $0 < 280 }, "\(counts)")
    }

    @Test func removingABackendMovesFewKeys() {
        let before = MaglevTable(names: Self.names, weights: [1, 1, 1, 1, 1])
        let after = MaglevTable(names: Array(Self.names.dropLast()), weights: [1, 1, 1, 1])
        let clients = (0..<2000).map { "192.168.\($0 / 256).\($0 % 256)" }
        var moved = 0
        for client in clients {
            let old = before.lookup(client)!
            let new = after.lookup(client)!
            if old != 4 && Self.names[old] != Self.names[new] { moved += 1 }
        }
        // Keys of the surviving backends mostly stay (Maglev's disruption is small, not zero).
        #expect(Double(moved) / Double(clients.count) < 0.1, "\(moved) moved")
    }

    @Test func emptyTable() {
        #expect(MaglevTable(names: [], weights: []).lookup("x") == nil)
        #expect(MaglevTable(names: ["a"], weights: [0]).lookup("x") == nil)
    }
}

@Suite struct HealthStateMachineTests {
    @Test func firstVerdictAfterThresholdAgreeingProbes() {
        var machine = HealthStateMachine(threshold: 3)
        #expect(machine.state == .initial)
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: true) == .healthy)
        #expect(machine.record(success: true) == nil)
    }

    @Test func flipsBothWaysOnlyOnConsecutiveResults() {
        var machine = HealthStateMachine(threshold: 2)
        _ = machine.record(success: true)
        #expect(machine.record(success: true) == .healthy)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: false) == .unhealthy)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: true) == .healthy)
    }

    @Test func thresholdOfOne() {
        var machine = HealthStateMachine(threshold: 1)
        #expect(machine.record(success: false) == .unhealthy)
        #expect(machine.record(success: true) == .healthy)
    }
}

/// The compiled plan's traffic decisions, without I/O.
@Suite struct ListenerPlanTests {
    typealias GroupSpec = (id: String, isLocal: Bool, trafficDial: Int, endpoints: [PlannedEndpoint])

    static func endpoint(_ id: String, weight: Int, healthy: Bool = true, index: Int = 1) -> PlannedEndpoint {
        PlannedEndpoint(
            id: id,
            host: "127.0.0.\(index)",
            address: try? SocketAddress(ipAddress: "127.0.0.\(index)", port: 0),
            weight: weight,
            isHealthy: healthy,
            stats: FlowStats()
        )
    }

    static func plan(affinity: Bool = false, _ groups: [GroupSpec]) -> ListenerPlan {
        ListenerPlan(listenerID: "l", isUDP: false, sourceIPAffinity: affinity, access: nil, logSink: nil, groups: groups)
    }

    static func local(dial: Int = 100, _ endpoints: [PlannedEndpoint]) -> GroupSpec { ("local", true, dial, endpoints) }
    static func remote(_ endpoints: [PlannedEndpoint], id: String = "remote", dial: Int = 100) -> GroupSpec { (id, false, dial, endpoints) }

    /// Shares of first picks over `flows` flows.
    static func shares(_ plan: ListenerPlan, flows: Int, client: (Int) -> IPAddress? = { _ in nil }) -> [String: Int] {
        let state = LoopBalancer()
        var counts: [String: Int] = [:]
        for flow in 0..<flows {
            guard let first = plan.choose(client: client(flow), state: state).first else { continue }
            counts[plan.groups[first.group].endpoints[first.endpoint].id, default: 0] += 1
        }
        return counts
    }

    /// Weighted round-robin follows the weights exactly with 3 to 5 endpoints, although every flow also gets
    /// fallbacks: only the first pick moves the balancing state.
    @Test(arguments: [[1, 2, 3], [5, 1, 1, 1], [1, 2, 3, 4, 5], [7, 3, 0, 2]])
    func roundRobinSharesFollowTheWeights(weights: [Int]) {
        let endpoints = weights.enumerated().map { Self.endpoint("e\($0.offset)", weight: $0.element, index: $0.offset + 1) }
        let plan = Self.plan([Self.local(endpoints)])
        let total = weights.reduce(0, +)
        let flows = total * 40
        let counts = Self.shares(plan, flows: flows)
        for (index, weight) in weights.enumerated() {
            #expect(counts["e\(index)", default: 0] == weight * 40, "\(counts)")
        }
        // Every flow may fall back to up to two other weighted endpoints.
        let targets = plan.choose(client: nil, state: LoopBalancer())
        #expect(targets.count == min(3, weights.filter { $0 > 0 }.count))
        #expect(Set(targets.map(\.endpoint)).count == targets.count)
    }

    /// A loop's balancing state follows the plan it is given: a new plan with other weights for the same group is
    /// balanced by the new weights at once, and a new plan with the same weights carries on the same cycle.
    @Test func theBalancingStateFollowsANewPlan() {
        func plan(_ weights: [Int]) -> ListenerPlan {
            Self.plan([Self.local(weights.enumerated().map { Self.endpoint("e\($0.offset)", weight: $0.element, index: $0.offset + 1) })])
        }
        func firstPicks(_ plan: ListenerPlan, _ state: LoopBalancer, _ flows: Int) -> [Int] {
            (0..<flows).compactMap { _ in plan.choose(client: nil, state: state).first?.endpoint }
        }
        let state = LoopBalancer()
        #expect(firstPicks(plan([1, 1]), state, 3) == [0, 1, 0])
        // Smooth weighted round-robin over 3 and 1 picks 0, 0, 1, 0 in each cycle of four.
        let picks = firstPicks(plan([3, 1]), state, 402)
        #expect(picks.filter { $0 == 0 }.count == 302 && picks.suffix(6) == [0, 0, 1, 0, 0, 0])
        // The same weights in another plan finish the cycle the last plan began (a fresh state would pick 0, 0).
        #expect(firstPicks(plan([3, 1]), state, 2) == [1, 0])
    }

    /// Maglev's first picks follow the weights within a few points, and its fallbacks are other endpoints.
    @Test func maglevSharesFollowTheWeights() {
        let weights = [1, 2, 3, 2]
        let endpoints = weights.enumerated().map { Self.endpoint("e\($0.offset)", weight: $0.element, index: $0.offset + 1) }
        let plan = Self.plan(affinity: true, [Self.local(endpoints)])
        let flows = 4000
        let counts = Self.shares(plan, flows: flows) { .v4(0x0A00_0000 | UInt32($0)) }
        for (index, weight) in weights.enumerated() {
            let share = Double(counts["e\(index)", default: 0]) / Double(flows)
            #expect(abs(share - Double(weight) / 8) < 0.03, "\(counts)")
        }
        let targets = plan.choose(client: .v4(0x0A00_0001), state: LoopBalancer())
        #expect(targets.count == 3 && Set(targets.map(\.endpoint)).count == 3)
        // The same client always starts at the same endpoint.
        #expect((0..<10).allSatisfy { _ in plan.choose(client: .v4(0x0A00_0001), state: LoopBalancer()).first == targets.first })
    }

    @Test func unhealthyEndpointsGetNothingAndAllDownFailsOpen() {
        let plan = Self.plan([Self.local([Self.endpoint("a", weight: 3, healthy: false), Self.endpoint("b", weight: 1)])])
        #expect(Self.shares(plan, flows: 20) == ["b": 20])
        let down = Self.plan([Self.local([Self.endpoint("a", weight: 3, healthy: false), Self.endpoint("b", weight: 1, healthy: false)])])
        #expect(down.failsOpen)
        #expect(Self.shares(down, flows: 40) == ["a": 30, "b": 10])
    }

    /// Failover is decided at listener level: a local group with no healthy endpoint sends its share to the
    /// remote groups that have one; only when no group has one does the listener fail open.
    @Test func aDownLocalGroupFailsOverToHealthyRemoteGroups() {
        let plan = Self.plan([
            Self.local(dial: 100, [Self.endpoint("l", weight: 1, healthy: false)]),
            Self.remote([Self.endpoint("r", weight: 1, index: 2)]),
        ])
        #expect(!plan.failsOpen)
        #expect(Self.shares(plan, flows: 50) == ["r": 50])
        let bothDown = Self.plan([
            Self.local(dial: 100, [Self.endpoint("l", weight: 1, healthy: false)]),
            Self.remote([Self.endpoint("r", weight: 1, healthy: false, index: 2)]),
        ])
        #expect(bothDown.failsOpen)
        #expect(Self.shares(bothDown, flows: 50) == ["l": 50])
        let recovered = Self.plan([
            Self.local(dial: 100, [Self.endpoint("l", weight: 1)]),
            Self.remote([Self.endpoint("r", weight: 1, index: 2)]),
        ])
        #expect(Self.shares(recovered, flows: 50) == ["l": 50])
    }

    @Test func trafficDialSplitsBetweenLocalAndRemote() {
        let plan = Self.plan([
            Self.local(dial: 30, [Self.endpoint("l", weight: 1)]),
            Self.remote([Self.endpoint("r1", weight: 1, index: 2)], id: "r1"),
            Self.remote([Self.endpoint("r2", weight: 1, index: 3)], id: "r2"),
        ])
        #expect(Self.shares(plan, flows: 100) == ["l": 30, "r1": 35, "r2": 35])
    }

    /// Dial 0 takes a group out: it gets no flow, even as the listener's only group.
    @Test func trafficDialZeroTakesAGroupOut() {
        let only = Self.plan([Self.local(dial: 0, [Self.endpoint("l", weight: 1)])])
        #expect(!only.isRoutable)
        #expect(only.choose(client: nil, state: LoopBalancer()).isEmpty)
        let remoteOff = Self.plan([
            Self.local(dial: 100, [Self.endpoint("l", weight: 1, healthy: false)]),
            Self.remote([Self.endpoint("r", weight: 1, index: 2)], dial: 0),
        ])
        // The remote group is out, so the local one is the only one that may take flows, and fails open.
        #expect(Self.shares(remoteOff, flows: 10) == ["l": 10])
    }

    @Test func weightZeroAndUnresolvedEndpointsTakeNothing() {
        let unresolved = PlannedEndpoint(id: "dns", host: "nowhere.invalid", address: nil, weight: 5, isHealthy: true, stats: FlowStats())
        let plan = Self.plan([Self.local([Self.endpoint("a", weight: 0), unresolved, Self.endpoint("b", weight: 1, index: 2)])])
        #expect(Self.shares(plan, flows: 10) == ["b": 10])
        #expect(!Self.plan([Self.local([Self.endpoint("a", weight: 0)])]).isRoutable)
    }

    @Test func accessRules() {
        let white = AccessRule(allow: true, blocks: [CIDR("10.0.0.0/8")!])
        #expect(white.admits(.v4(0x0A01_0203)))
        #expect(!white.admits(.v4(0xC0A8_0001)))
        let black = AccessRule(allow: false, blocks: [CIDR("10.0.0.0/8")!])
        #expect(!black.admits(.v4(0x0A01_0203)))
        #expect(black.admits(.v4(0xC0A8_0001)))
        // Client addresses as accept(2) and recvfrom(2) give them, read without going through text.
        var v4 = sockaddr_storage()
        _ = withSocketAddress(try! SocketAddress(ipAddress: "10.1.2.3", port: 0), port: 5, into: &v4)
        #expect(IPAddress(v4) == .v4(0x0A01_0203))
        var v6 = sockaddr_storage()
        _ = withSocketAddress(try! SocketAddress(ipAddress: "2001:db8::1", port: 0), port: 5, into: &v6)
        #expect(IPAddress(v6) == IPAddress("2001:db8::1"))
        #expect(SocketAddress(v6)?.port == 5)
        #expect(IPAddress(sockaddr_storage()) == nil)
    }
}

/// The TCP flow's phases, without I/O.
@Suite struct TCPFlowStateMachineTests {
    @Test func connectsRetriesAndSplices() {
        var machine = TCPFlowStateMachine()
        #expect(machine.clientConnected(admitted: true, targets: 3) == .connect(attempt: 0))
        #expect(machine.connectFailed(attempt: 0) == .connect(attempt: 1))
        #expect(machine.connectSucceeded(attempt: 1) == .splice(attempt: 1))
        #expect(machine.state == .spliced)
        // A late answer to an earlier attempt is discarded.
        #expect(machine.connectSucceeded(attempt: 0) == .discardEndpoint)
    }

    @Test func refusals() {
        var denied = TCPFlowStateMachine()
        #expect(denied.clientConnected(admitted: false, targets: 3) == .refuse(.denied))
        var none = TCPFlowStateMachine()
        #expect(none.clientConnected(admitted: true, targets: 0) == .refuse(.noEndpoint))
        var failing = TCPFlowStateMachine()
        #expect(failing.clientConnected(admitted: true, targets: 2) == .connect(attempt: 0))
        #expect(failing.connectFailed(attempt: 0) == .connect(attempt: 1))
        #expect(failing.connectFailed(attempt: 1) == .refuse(.connectFailed))
        #expect(failing.state == .closed)
    }

    @Test func aClientThatLeavesWhileConnectingDiscardsTheEndpoint() {
        var machine = TCPFlowStateMachine()
        #expect(machine.clientConnected(admitted: true, targets: 2) == .connect(attempt: 0))
        machine.clientClosed()
        #expect(machine.connectSucceeded(attempt: 0) == .discardEndpoint)
        #expect(machine.connectFailed(attempt: 0) == .none)
    }
}

@Suite struct UDPSessionAdmissionTests {
    @Test func budgetsAndRefusals() {
        func decide(_ admitted: Bool = true, _ routable: Bool = true, listener: Int = 0, process: Int = 0) -> UDPSessionAdmission {
            .decide(
                admitted: admitted,
                routable: routable,
                listenerSessions: listener,
                maxPerListener: 10,
                processSessions: process,
                maxPerProcess: 15
            )
        }
        #expect(decide() == .open)
        #expect(decide(false) == .denied)
        #expect(decide(true, false) == .noEndpoint)
        #expect(decide(listener: 10) == .listenerBudget)
        #expect(decide(listener: 9, process: 15) == .processBudget)
        #expect(decide(listener: 9, process: 14) == .open)
    }
}
