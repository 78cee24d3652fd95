/// What changed from one ``ConfigSnapshot`` to a newer one: the entries added or changed since `baseRevision` and
/// the ids of those removed. A PoP serving `baseRevision` rebuilds the snapshot of `revision` with
/// ``applied(to:)``, so a write that touches one listener sends that listener, not the whole configuration
/// (`../shared/DESIGN.md`, "PoP protocol"). Access controls and log sinks have no id of their own (they are keyed
/// by listener, one IP group or logtank each) and travel whole when any of them changed.
///
/// Versioned apart from the snapshot: a PoP asks for deltas of the format it reads (`delta=1`), and a control plane
/// that has no delta for it answers with the full snapshot.
public struct ConfigDelta: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public var formatVersion = ConfigDelta.formatVersion
    /// The revision the delta starts from: the one the PoP serves.
    public var baseRevision: Int64
    /// The revision ``applied(to:)`` produces.
    public var revision: Int64
    public var accelerators: Changes<ConfigSnapshot.AcceleratorConfig>
    public var listeners: Changes<ConfigSnapshot.ListenerConfig>
    public var endpointGroups: Changes<ConfigSnapshot.EndpointGroupConfig>
    public var endpoints: Changes<ConfigSnapshot.EndpointConfig>
    public var healthChecks: Changes<ConfigSnapshot.HealthCheckConfig>
    /// Every access control of `revision` when they differ from the base's; nil when unchanged.
    public var accessControls: [ConfigSnapshot.AccessControlConfig]?
    /// Every log sink of `revision` when they differ from the base's; nil when unchanged.
    public var logSinks: [ConfigSnapshot.LogSinkConfig]?

    /// The entries of one kind that changed.
    public struct Changes<Entry: SnapshotEntry>: Codable, Sendable, Equatable {
        /// Entries new or different in the newer snapshot, whole.
        public var upserted: [Entry]
        /// Ids of entries the newer snapshot no longer has.
        public var removed: [String]

        /// The changes from `base` to `next`, walked side by side in id order (snapshots come sorted by id; entries
        /// that do not are sorted first). The same array on both sides (a kind nothing touched) has no changes and
        /// is not walked.
        init(from base: [Entry], to next: [Entry]) {
            let same = base.withUnsafeBufferPointer { b in
                next.withUnsafeBufferPointer { n in b.baseAddress == n.baseAddress && b.count == n.count }
            }
            if same {
                self.upserted = []
                self.removed = []
            } else if let walked = Self.walk(base, next, checkingOrder: true) {
                self = walked
            } else {
                let base = base.sorted { $0.id < $1.id }
                let next = next.sorted { $0.id < $1.id }
                self = Self.walk(base, next, checkingOrder: false)!
            }
        }

        /// The merge walk of two arrays in id order. With `checkingOrder`, nil when either turns out not to be in
        /// strictly increasing id order (checked as the walk goes, not in a pass of its own).
        private static func walk(_ base: [Entry], _ next: [Entry], checkingOrder: Bool) -> Changes? {
            var upserted: [Entry] = []
            var removed: [String] = []
            var i = base.startIndex
            var j = next.startIndex
            while i < base.endIndex || j < next.endIndex {
                var passedBase = false
                var passedNext = false
                if j == next.endIndex || (i < base.endIndex && base[i].id < next[j].id) {
                    removed.append(base[i].id)
                    passedBase = true
                } else if i == base.endIndex || next[j].id < base[i].id {
                    upserted.append(next[j])
                    passedNext = true
                } else {
                    if base[i] != next[j] { upserted.append(next[j]) }
                    passedBase = true
                    passedNext = true
                }
                // Each element is checked against the one before it once, as the walk passes it.
                if passedBase {
                    if checkingOrder && i > base.startIndex && !(base[i - 1].id < base[i].id) { return nil }
                    i += 1
                }
                if passedNext {
                    if checkingOrder && j > next.startIndex && !(next[j - 1].id < next[j].id) { return nil }
                    j += 1
                }
            }
            return Changes(upserted: upserted, removed: removed)
        }

        private init(upserted: [Entry], removed: [String]) {
            self.upserted = upserted
            self.removed = removed
        }

        /// `base` with the changes made, merged in one pass in id order.
        func applied(to base: [Entry]) -> [Entry] {
            guard !self.upserted.isEmpty || !self.removed.isEmpty else { return base }
            let removed = Set(self.removed)
            let upserts = self.upserted.sortedByID()
            var result: [Entry] = []
            result.reserveCapacity(base.count + upserts.count)
            var u = upserts.startIndex
            for entry in base.sortedByID() {
                while u < upserts.endIndex && upserts[u].id < entry.id {
                    result.append(upserts[u])
                    u += 1
                }
                if u < upserts.endIndex && upserts[u].id == entry.id {
                    result.append(upserts[u])
                    u += 1
                } else if removed.isEmpty || !removed.contains(entry.id) {
                    result.append(entry)
                }
            }
            result.append(contentsOf: upserts[u...])
            return result
        }

        var count: Int { self.upserted.count + self.removed.count }
    }

    /// A delta does not start from the snapshot it was given.
    public struct BaseMismatch: Error, CustomStringConvertible {
        public var expected: Int64
        public var given: Int64
        public var description: String { "the delta starts from revision \(self.expected), not \(self.given)" }
    }

    /// The changes from `base` to `next`. ``applied(to:)`` gives `next` back with every kind in id order, as the
    /// control plane builds every snapshot: `ConfigDelta(from: base, to: next).applied(to: base) == next` for those.
    public init(from base: ConfigSnapshot, to next: ConfigSnapshot) {
        self.baseRevision = base.revision
        self.revision = next.revision
        self.accelerators = Changes(from: base.accelerators, to: next.accelerators)
        self.listeners = Changes(from: base.listeners, to: next.listeners)
        self.endpointGroups = Changes(from: base.endpointGroups, to: next.endpointGroups)
        self.endpoints = Changes(from: base.endpoints, to: next.endpoints)
        self.healthChecks = Changes(from: base.healthChecks, to: next.healthChecks)
        self.accessControls = base.accessControls == next.accessControls ? nil : next.accessControls
        self.logSinks = base.logSinks == next.logSinks ? nil : next.logSinks
    }

    /// The snapshot of ``revision``: `base` with the changes made.
    ///
    /// - Throws: ``BaseMismatch`` when `base` is not at ``baseRevision``.
    public func applied(to base: ConfigSnapshot) throws -> ConfigSnapshot {
        guard base.revision == self.baseRevision else { throw BaseMismatch(expected: self.baseRevision, given: base.revision) }
        return ConfigSnapshot(
            revision: self.revision,
            accelerators: self.accelerators.applied(to: base.accelerators),
            listeners: self.listeners.applied(to: base.listeners),
            endpointGroups: self.endpointGroups.applied(to: base.endpointGroups),
            endpoints: self.endpoints.applied(to: base.endpoints),
            healthChecks: self.healthChecks.applied(to: base.healthChecks),
            accessControls: self.accessControls ?? base.accessControls,
            logSinks: self.logSinks ?? base.logSinks
        )
    }

    /// Entries added, changed or removed, over every kind (access controls and log sinks count whole).
    public var changeCount: Int {
        self.accelerators.count + self.listeners.count + self.endpointGroups.count + self.endpoints.count
            + self.healthChecks.count + (self.accessControls?.count ?? 0) + (self.logSinks?.count ?? 0)
    }
}

/// A snapshot entry with an id of its own (the resource's).
public protocol SnapshotEntry: Codable, Sendable, Equatable {
    var id: String { get }
}

extension Array where Element: SnapshotEntry {
    /// Whether the entries are in strictly increasing id order, as the control plane builds every snapshot.
    var isSortedByID: Bool {
        zip(self, self.dropFirst()).allSatisfy { $0.id < $1.id }
    }

    /// The entries in id order: themselves when they already are (the usual case, checked in one pass).
    func sortedByID() -> [Element] {
        self.isSortedByID ? self : self.sorted { $0.id < $1.id }
    }
}

extension ConfigSnapshot.AcceleratorConfig: SnapshotEntry {}
extension ConfigSnapshot.ListenerConfig: SnapshotEntry {}
extension ConfigSnapshot.EndpointGroupConfig: SnapshotEntry {}
extension ConfigSnapshot.EndpointConfig: SnapshotEntry {}
extension ConfigSnapshot.HealthCheckConfig: SnapshotEntry {}
