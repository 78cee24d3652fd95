import SlipstreamModel
import Testing

@testable import SlipstreamDataPlane

/// The PoP's index of the applied configuration, kept up to date by deltas: it must end where an index built from
/// the newer snapshot starts, and name every listener whose plan or sockets could differ.
@Suite struct SnapshotIndexTests {
    /// A random configuration over small id spaces, so that between two of them entries appear, disappear, change
    /// fields and move to another parent.
    static func randomSnapshot(revision: Int64, using generator: inout some RandomNumberGenerator) -> ConfigSnapshot {
        func some(_ prefix: String, _ count: Int) -> [String] {
            (0..<count).filter { _ in Int.random(in: 0..<10, using: &generator) < 7 }.map { "\(prefix)\($0)" }
        }
        func pick(_ prefix: String, _ count: Int) -> String { "\(prefix)\(Int.random(in: 0..<count, using: &generator))" }
        let listeners = some("l", 8)
        return ConfigSnapshot(
            revision: revision,
            accelerators: some("a", 4).map { .init(id: $0, addresses: ["127.0.0.\(Int.random(in: 1...2, using: &generator))"]) },
            listeners: listeners.map {
                .init(
                    id: $0,
                    acceleratorID: pick("a", 4),
                    protocol: Bool.random(using: &generator) ? .tcp : .udp,
                    portRanges: [PortRange(fromPort: 80, toPort: 80 + Int.random(in: 0...1, using: &generator))],
                    clientAffinity: .none
                )
            },
            endpointGroups: some("g", 12).map {
                .init(id: $0, listenerID: pick("l", 8), regionID: "r", trafficDialPercentage: Int.random(in: 0...1, using: &generator) * 100)
            },
            endpoints: some("e", 20).map {
                .init(id: $0, groupID: pick("g", 12), address: "127.0.0.9", weight: Int.random(in: 0...2, using: &generator))
            },
            healthChecks: some("h", 6).map {
                .init(
                    id: $0,
                    groupID: pick("g", 12),
                    protocol: .tcp,
                    port: 80,
                    interval: 10,
                    timeout: 5,
                    maxRetries: 3,
                    enabled: Bool.random(using: &generator)
                )
            },
            accessControls: listeners.filter { _ in Int.random(in: 0..<4, using: &generator) == 0 }.map {
                .init(listenerID: $0, type: Bool.random(using: &generator) ? .allow : .deny, cidrs: ["10.0.0.0/8"])
            },
            logSinks: listeners.filter { _ in Int.random(in: 0..<4, using: &generator) == 0 }.map {
                .init(listenerID: $0, logGroupID: pick("lg", 2), logStreamID: "s")
            }
        )
    }

    /// `base` with one to three small changes: an entry of one kind added, removed, changed or moved to another
    /// parent, or the access controls or log sinks changed. Sparse changes are what tell a missed listener apart.
    static func nudged(_ base: ConfigSnapshot, revision: Int64, using generator: inout some RandomNumberGenerator) -> ConfigSnapshot {
        let other = Self.randomSnapshot(revision: revision, using: &generator)
        var next = base
        next.revision = revision
        func nudge<Entry: SnapshotEntry>(_ path: WritableKeyPath<ConfigSnapshot, [Entry]>) {
            let replacement = other[keyPath: path].randomElement(using: &generator)
            if let entry = replacement, Bool.random(using: &generator) {
                // Added, or replaced by an entry of the same id with other fields and perhaps another parent.
                next[keyPath: path].removeAll { $0.id == entry.id }
                next[keyPath: path].append(entry)
                next[keyPath: path].sort { $0.id < $1.id }
            } else if !next[keyPath: path].isEmpty {
                next[keyPath: path].remove(at: Int.random(in: 0..<next[keyPath: path].count, using: &generator))
            }
        }
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            switch Int.random(in: 0..<7, using: &generator) {
            case 0: nudge(\.accelerators)
            case 1: nudge(\.listeners)
            case 2: nudge(\.endpointGroups)
            case 3: nudge(\.endpoints)
            case 4: nudge(\.healthChecks)
            case 5: next.accessControls = other.accessControls
            default: next.logSinks = other.logSinks
            }
        }
        return next
    }

    /// Everything a listener's plan and sockets are made from, as the index gives it.
    struct Inputs: Equatable {
        var listener: ConfigSnapshot.ListenerConfig?
        var addresses: [String]
        var groups: [ConfigSnapshot.EndpointGroupConfig]
        var endpoints: [[ConfigSnapshot.EndpointConfig]]
        var healthChecks: [[ConfigSnapshot.HealthCheckConfig]]
        var accessControl: ConfigSnapshot.AccessControlConfig?
        var logSink: ConfigSnapshot.LogSinkConfig?

        init(of id: String, in index: SnapshotIndex) {
            self.listener = index.listeners[id]
            self.addresses = self.listener.map { index.addresses(of: $0) } ?? []
            self.groups = index.groups(of: id)
            self.endpoints = self.groups.map { index.endpoints(of: $0.id) }
            self.healthChecks = self.groups.map { group in
                index.healthChecks.values.filter { $0.groupID == group.id }.sorted { $0.id < $1.id }
            }
            self.accessControl = index.accessControls[id]
            self.logSink = index.logSinks[id]
        }
    }

    @Test func aDeltaBringsTheIndexToTheNewerSnapshotAndNamesEveryListenerItTouches() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<2_000 {
            let base = Self.randomSnapshot(revision: Int64(round), using: &generator)
            let next =
                round % 4 == 0
                ? Self.randomSnapshot(revision: Int64(round) + 1, using: &generator)
                : Self.nudged(base, revision: Int64(round) + 1, using: &generator)
            var index = SnapshotIndex(base)
            let before = index
            let changes = index.apply(ConfigDelta(from: base, to: next))
            #expect(index == SnapshotIndex(next))
            let ids = Set(base.listeners.map(\.id)).union(next.listeners.map(\.id))
            let differing = ids.filter { Inputs(of: $0, in: before) != Inputs(of: $0, in: index) }
            #expect(differing.isSubset(of: changes.listeners), "missed \(differing.subtracting(changes.listeners).sorted())")
            #expect(changes.removedListeners == Set(base.listeners.map(\.id)).subtracting(next.listeners.map(\.id)))
            #expect(changes.removedEndpoints == Set(base.endpoints.map(\.id)).subtracting(next.endpoints.map(\.id)))
            let weighted = Set(next.endpoints.filter { $0.weight > 0 }.map(\.id))
            #expect(changes.leavingEndpoints == Set(base.endpoints.filter { $0.weight > 0 && !weighted.contains($0.id) }.map(\.id)))
        }
    }

    /// The work follows the change: in a configuration of 2,000 listeners, one endpoint's weight touches its own
    /// listener, a new listener touches itself, and an unchanged snapshot touches none.
    @Test func oneChangeTouchesOneListener() {
        let ids = (0..<2_000).map { String(format: "%05d", $0) }
        var snapshot = ConfigSnapshot(
            revision: 1,
            accelerators: ids.map { .init(id: "a" + $0, addresses: ["127.0.0.1"]) },
            listeners: ids.map {
                .init(id: "l" + $0, acceleratorID: "a" + $0, protocol: .tcp, portRanges: [PortRange(fromPort: 80, toPort: 80)], clientAffinity: .none)
            },
            endpointGroups: ids.map { .init(id: "g" + $0, listenerID: "l" + $0, regionID: "r", trafficDialPercentage: 100) },
            endpoints: ids.map { .init(id: "e" + $0, groupID: "g" + $0, address: "127.0.0.9", weight: 1) }
        )
        var index = SnapshotIndex(snapshot)
        var next = snapshot
        next.revision = 2
        #expect(index.apply(ConfigDelta(from: snapshot, to: next)) == SnapshotIndex.Changes())
        snapshot = next
        next.revision = 3
        next.endpoints[1_234].weight = 0
        let weight = index.apply(ConfigDelta(from: snapshot, to: next))
        #expect(weight.listeners == ["l01234"] && weight.leavingEndpoints == ["e01234"])
        snapshot = next
        next.revision = 4
        next.accelerators.append(.init(id: "a99999", addresses: ["127.0.0.2"]))
        next.listeners.append(
            .init(id: "l99999", acceleratorID: "a99999", protocol: .udp, portRanges: [PortRange(fromPort: 53, toPort: 53)], clientAffinity: .none)
        )
        #expect(index.apply(ConfigDelta(from: snapshot, to: next)).listeners == ["l99999"])
    }
}
