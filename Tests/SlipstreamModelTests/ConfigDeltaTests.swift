import Foundation
import Testing

@testable import SlipstreamModel

/// Deltas between snapshots: what a PoP serving one revision receives to reach a newer one.
@Suite struct ConfigDeltaTests {
    /// A snapshot of `ids` (one accelerator, listener, group, endpoint and health check per id), sorted by id as the
    /// control plane builds them; `variant` changes the fields of the ids it names.
    static func snapshot(revision: Int64, ids: [Int], variant: Set<Int> = [], acl: [String] = []) -> ConfigSnapshot {
        let ids = ids.map { String(format: "%06d", $0) }.sorted()
        func changed(_ id: String) -> Bool { variant.contains(Int(id)!) }
        return ConfigSnapshot(
            revision: revision,
            accelerators: ids.map { .init(id: "a" + $0, addresses: [changed($0) ? "127.1.0.2" : "127.1.0.1"]) },
            listeners: ids.map {
                .init(
                    id: "l" + $0,
                    acceleratorID: "a" + $0,
                    protocol: .tcp,
                    portRanges: [PortRange(fromPort: changed($0) ? 81 : 80, toPort: 80)],
                    clientAffinity: .none
                )
            },
            endpointGroups: ids.map { .init(id: "g" + $0, listenerID: "l" + $0, regionID: "r", trafficDialPercentage: changed($0) ? 0 : 100) },
            endpoints: ids.map { .init(id: "e" + $0, groupID: "g" + $0, address: "127.0.0.2", weight: changed($0) ? 2 : 1) },
            healthChecks: ids.map {
                .init(id: "h" + $0, groupID: "g" + $0, protocol: .tcp, port: 80, interval: 10, timeout: 5, maxRetries: 3, enabled: !changed($0))
            },
            accessControls: acl.map { .init(listenerID: $0, type: .allow, cidrs: ["10.0.0.0/8"]) }
        )
    }

    @Test func applyingTheDeltaToItsBaseGivesTheNewerSnapshot() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<50 {
            let all = Array(0..<200)
            let before = all.filter { _ in Bool.random(using: &generator) }
            let after = all.filter { _ in Int.random(in: 0..<4, using: &generator) > 0 }
            let variant = Set(after.filter { _ in Int.random(in: 0..<10, using: &generator) == 0 })
            let base = Self.snapshot(revision: Int64(round), ids: before, acl: round % 3 == 0 ? ["l000001"] : [])
            let next = Self.snapshot(revision: Int64(round) + 7, ids: after, variant: variant, acl: round % 2 == 0 ? ["l000001"] : [])
            let delta = ConfigDelta(from: base, to: next)
            #expect(try delta.applied(to: base) == next)
            // Through JSON, as it travels.
            let decoded = try JSONDecoder().decode(ConfigDelta.self, from: JSONEncoder().encode(delta))
            #expect(try decoded.applied(to: base) == next)
            // Only what changed travels: the ids added plus those changed, and the ids removed.
            let added = Set(after).subtracting(before)
            let kept = Set(after).intersection(before)
            #expect(delta.listeners.upserted.count == added.count + kept.intersection(variant).count)
            #expect(delta.listeners.removed.count == Set(before).subtracting(after).count)
        }
    }

    @Test func aDeltaBetweenEqualConfigurationsCarriesNothing() throws {
        let base = Self.snapshot(revision: 4, ids: Array(0..<100), acl: ["l000003"])
        var next = base
        next.revision = 9
        let delta = ConfigDelta(from: base, to: next)
        #expect(delta.changeCount == 0 && delta.accessControls == nil && delta.logSinks == nil)
        #expect(try delta.applied(to: base) == next)
        // One endpoint's weight: that entry and nothing else.
        next.endpoints[42].weight = 5
        let one = ConfigDelta(from: base, to: next)
        #expect(one.changeCount == 1 && one.endpoints.upserted == [next.endpoints[42]])
    }

    @Test func entriesOutOfOrderAreMatchedByID() throws {
        var base = Self.snapshot(revision: 1, ids: Array(0..<30))
        var next = Self.snapshot(revision: 2, ids: Array(10..<40), variant: [15, 35])
        base.listeners.reverse()
        next.listeners.shuffle()
        let delta = ConfigDelta(from: base, to: next)
        #expect(Set(delta.listeners.upserted.map(\.id)) == Set((30..<40).map { String(format: "l%06d", $0) } + ["l000015"]))
        #expect(Set(delta.listeners.removed) == Set((0..<10).map { String(format: "l%06d", $0) }))
        // Applied to an unordered base, the entries come out sorted by id.
        #expect(try delta.applied(to: base).listeners == Self.snapshot(revision: 2, ids: Array(10..<40), variant: [15, 35]).listeners)
    }

    @Test func aDeltaRefusesASnapshotItDoesNotStartFrom() {
        let base = Self.snapshot(revision: 4, ids: [1, 2])
        let delta = ConfigDelta(from: base, to: Self.snapshot(revision: 5, ids: [2, 3]))
        var other = base
        other.revision = 3
        #expect(throws: ConfigDelta.BaseMismatch.self) { try delta.applied(to: other) }
    }
}
