import SlipstreamCore
import Testing

@testable import SlipstreamDataPlane

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

@Suite struct ListenerRouterTests {
    static func endpoint(_ id: String, group: String, weight: Int) -> ConfigSnapshot.EndpointConfig {
        ConfigSnapshot.EndpointConfig(id: id, groupID: group, address: "127.0.0.\(id.count)", weight: weight)
    }

    static func router(affinity: Bool = false, localDial: Int = 100, remote: Bool = false, health: HealthBook = HealthBook()) -> ListenerRouter {
        var groups = [
            ListenerRouter.Plan.Group(
                id: "local",
                isLocal: true,
                trafficDialPercentage: localDial,
                endpoints: [
                    endpoint("a", group: "local", weight: 3), endpoint("b", group: "local", weight: 1), endpoint("c", group: "local", weight: 0),
                ]
            )
        ]
        if remote {
            groups.append(.init(id: "remote", isLocal: false, trafficDialPercentage: 100, endpoints: [endpoint("r", group: "remote", weight: 1)]))
        }
        return ListenerRouter(plan: .init(listenerID: "l", sourceIPAffinity: affinity, groups: groups), health: health)
    }

    @Test func weightedRoundRobinWithFallbacks() {
        let router = Self.router()
        var counts: [String: Int] = [:]
        for _ in 0..<400 {
            let targets = router.choose(clientAddress: "10.0.0.1")
            counts[targets[0].endpointID, default: 0] += 1
            #expect(Set(targets.map(\.endpointID)) == ["a", "b"])
        }
        #expect(counts == ["a": 300, "b": 100])
    }

    @Test func unhealthyEndpointsGetNothingUntilAllAreDown() {
        let health = HealthBook()
        let router = Self.router(health: health)
        health.set(.unhealthy, for: "a")
        #expect((0..<20).allSatisfy { _ in router.choose(clientAddress: "x").map(\.endpointID) == ["b"] })
        health.set(.initial, for: "b")
        // None eligible: fail open to every weighted endpoint.
        #expect(Set((0..<20).map { _ in router.choose(clientAddress: "x")[0].endpointID }) == ["a", "b"])
    }

    @Test func trafficDialSplitsBetweenLocalAndRemote() {
        let router = Self.router(localDial: 30, remote: true)
        let firsts = (0..<100).map { _ in router.choose(clientAddress: "x")[0].groupID }
        #expect(firsts.filter { $0 == "local" }.count == 30)
        #expect(firsts.filter { $0 == "remote" }.count == 70)
    }

    @Test func sourceAffinityKeepsClientsTogether() {
        let router = Self.router(affinity: true)
        for client in (0..<50).map({ "10.1.0.\($0)" }) {
            let first = router.choose(clientAddress: client)[0].endpointID
            #expect((0..<5).allSatisfy { _ in router.choose(clientAddress: client)[0].endpointID == first })
        }
        let spread = Set((0..<200).map { router.choose(clientAddress: "10.2.\($0 / 200).\($0 % 200)")[0].endpointID })
        #expect(spread == ["a", "b"])
    }
}
