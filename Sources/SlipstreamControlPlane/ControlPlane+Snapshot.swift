import SlipstreamModel
import Synchronization

/// The last snapshot this control plane built, by resource, so the next one re-reads only what was written since
/// (the revision tells which): the work of a snapshot grows with the change, not with the whole configuration.
/// A removed resource leaves no row behind; a count per kind catches it, and that kind is read whole. Each kind
/// keeps its ids sorted and its sorted entries until one of them changes, so assembling a snapshot copies only
/// the kinds that changed, without sorting.
final class SnapshotCache: Sendable {
    /// One kind's entries in key order (a resource id), as two parallel arrays: a change is a binary search and
    /// one insert, replace or remove, and the entries in order are the array itself.
    struct Entries<Entry: Sendable>: Sendable {
        /// The keys, sorted.
        private var keys: [String] = []
        /// The entry of each key, at the key's index.
        private var entries: [Entry] = []

        var count: Int { self.keys.count }

        /// Sets the entry of `key`, or removes it when `entry` is nil.
        mutating func set(_ key: String, _ entry: Entry?) {
            var low = 0
            var high = self.keys.count
            while low < high {
                let middle = (low + high) / 2
                if self.keys[middle] < key { low = middle + 1 } else { high = middle }
            }
            let found = low < self.keys.count && self.keys[low] == key
            switch (entry, found) {
            case (let entry?, true): self.entries[low] = entry
            case (let entry?, false):
                self.keys.insert(key, at: low)
                self.entries.insert(entry, at: low)
            case (nil, true):
                self.keys.remove(at: low)
                self.entries.remove(at: low)
            case (nil, false): break
            }
        }

        /// Replaces every entry.
        mutating func replaceAll(_ entries: [String: Entry]) {
            let sorted = entries.sorted { $0.key < $1.key }
            self.keys = sorted.map(\.key)
            self.entries = sorted.map(\.value)
        }

        /// The entries in key order.
        func sorted() -> [Entry] { self.entries }
    }

    struct State: Sendable {
        var revision: Int64 = 0
        var accelerators = Entries<ConfigSnapshot.AcceleratorConfig>()
        var listeners = Entries<ConfigSnapshot.ListenerConfig>()
        var endpointGroups = Entries<ConfigSnapshot.EndpointGroupConfig>()
        var endpoints = Entries<ConfigSnapshot.EndpointConfig>()
        var healthChecks = Entries<ConfigSnapshot.HealthCheckConfig>()
        /// An IP group's entries: one per listener it is associated with.
        var accessControls = Entries<[ConfigSnapshot.AccessControlConfig]>()
        var logSinks = Entries<ConfigSnapshot.LogSinkConfig>()

        /// The snapshot, every kind in key order.
        func snapshot() -> ConfigSnapshot {
            ConfigSnapshot(
                revision: self.revision,
                accelerators: self.accelerators.sorted(),
                listeners: self.listeners.sorted(),
                endpointGroups: self.endpointGroups.sorted(),
                endpoints: self.endpoints.sorted(),
                healthChecks: self.healthChecks.sorted(),
                accessControls: self.accessControls.sorted().flatMap { $0 },
                logSinks: self.logSinks.sorted()
            )
        }
    }

    let state = Mutex(State())
}

extension ControlPlane {
    /// The configuration every PoP serves: all resources of all accounts that are not being deleted, at the
    /// revision they were read at. Built from the last snapshot and the resources written since.
    public func snapshot() async throws -> ConfigSnapshot {
        let cached = self.snapshots.state.withLock { $0 }
        let next = try await self.read { tx in
            let revision = try await tx.currentRevision()
            // A revision behind the cache means another store (a restored database): start over.
            var state = cached.revision <= revision ? cached : SnapshotCache.State()
            if state.revision == revision { return state }
            let since = state.revision
            state.revision = revision
            // Whether a resource the cache holds may have been removed since, leaving no row to read.
            let mayHoldRemoved = try await tx.removedThrough() > since
            func apply<S: ResourceSpec, C>(
                _ type: S.Type,
                into path: WritableKeyPath<SnapshotCache.State, SnapshotCache.Entries<C>>,
                _ entry: (Resource<S>) -> C
            ) async throws {
                for resource in try await tx.changed(type, since: since) {
                    state[keyPath: path].set(resource.id, resource.status == .deleting ? nil : entry(resource))
                }
                // A resource removed since (its delete settled, perhaps by another replica) left no row to read:
                // the counts disagree, and the kind is read whole.
                if mayHoldRemoved, state[keyPath: path].count != (try await tx.liveCount(S.kind)) {
                    state[keyPath: path].replaceAll(Dictionary(uniqueKeysWithValues: try await tx.live(type).map { ($0.id, entry($0)) }))
                }
            }
            try await apply(AcceleratorSpec.self, into: \.accelerators) { .init(id: $0.id, addresses: $0.spec.ipSets.map(\.ipAddress)) }
            try await apply(ListenerSpec.self, into: \.listeners) { listener in
                .init(
                    id: listener.id,
                    acceleratorID: listener.parentID ?? "",
                    protocol: listener.spec.protocol,
                    portRanges: listener.spec.portRanges,
                    clientAffinity: listener.spec.clientAffinity
                )
            }
            try await apply(EndpointGroupSpec.self, into: \.endpointGroups) { group in
                .init(
                    id: group.id,
                    listenerID: group.parentID ?? "",
                    regionID: group.spec.regionID,
                    trafficDialPercentage: group.spec.trafficDialPercentage
                )
            }
            try await apply(EndpointSpec.self, into: \.endpoints) { endpoint in
                .init(id: endpoint.id, groupID: endpoint.parentID ?? "", address: endpoint.spec.ipAddress, weight: endpoint.spec.weight)
            }
            try await apply(HealthCheckSpec.self, into: \.healthChecks) { check in
                .init(
                    id: check.id,
                    groupID: check.parentID ?? "",
                    protocol: check.spec.protocol,
                    port: check.spec.port,
                    interval: check.spec.interval,
                    timeout: check.spec.timeout,
                    maxRetries: check.spec.maxRetries,
                    enabled: check.spec.enabled
                )
            }
            try await apply(IPGroupSpec.self, into: \.accessControls) { group in
                group.spec.associatedListeners.map { binding in
                    .init(listenerID: binding.listenerID, type: binding.type, cidrs: group.spec.ipList.map(\.cidr))
                }
            }
            try await apply(LogtankSpec.self, into: \.logSinks) { logtank in
                .init(listenerID: logtank.parentID ?? "", logGroupID: logtank.spec.logGroupID, logStreamID: logtank.spec.logStreamID)
            }
            return state
        }
        let snapshot = next.snapshot()
        self.snapshots.state.withLock { state in
            if state.revision < next.revision || next.revision < cached.revision { state = next }
        }
        return snapshot
    }

    /// Records what one PoP reported, as a fleet of that PoP alone: see ``settle(_:)-(FleetReport)``.
    public func settle(_ report: PoPReport) async throws {
        try await self.settle(FleetReport(report))
    }

    /// Records what the live PoPs reported, by ``ResourceLifecycle``: resources written at or before the revision
    /// every live PoP applied become `ACTIVE`, or `ERROR` when a live PoP could not apply them; `DELETING` ones at
    /// or before it are removed. An endpoint shows the health verdict (``ResourceLifecycle/healthVerdict(_:)``) of
    /// the PoPs in its endpoint group's region, or of all PoPs when none is there, counting only PoPs that have
    /// applied the endpoint and its group's health check.
    ///
    /// With `previous`, the fleet report settled last, only endpoints whose views changed since, and endpoints and
    /// health checks this call settles, are looked at: the work follows the change, not the configuration's size.
    public func settle(_ fleet: FleetReport, previous: FleetReport? = nil) async throws {
        let applied = fleet.appliedRevision
        let failed = Set(fleet.failures.keys)
        try await self.store.write { tx in
            // Endpoints whose verdict may change though their views did not: those settled now, and those of
            // groups whose health check is settled now.
            var touched: Set<String> = []
            for resource in try await tx.unsettled(atOrBefore: applied, orAmong: failed) {
                let transition = ResourceLifecycle.transition(
                    status: resource.status,
                    revision: resource.revision,
                    appliedRevision: applied,
                    failed: failed.contains(resource.id)
                )
                if resource.kind == .endpoint { touched.insert(resource.id) }
                if resource.kind == .healthCheck, let group = try await tx.find(HealthCheckSpec.self, id: resource.id)?.parentID {
                    touched.formUnion(try await tx.children(EndpointSpec.self, of: group).map(\.id))
                }
                switch transition {
                case .unchanged: break
                case .become(let status): try await tx.setStatus(resource.kind, id: resource.id, status, revision: resource.revision, updatedAt: nil)
                case .remove:
                    try await tx.remove(resource.kind, id: resource.id)
                    // Its addresses are free again, below where address searches start.
                    if resource.kind == .accelerator { self.addressFloors.clear() }
                }
            }
            for (endpointID, votes) in fleet.health {
                if let previous, !touched.contains(endpointID), previous.health[endpointID].map(Self.views) == Self.views(votes) { continue }
                guard var endpoint = try await tx.find(EndpointSpec.self, id: endpointID), let groupID = endpoint.parentID else { continue }
                let region = try await tx.find(EndpointGroupSpec.self, id: groupID)?.spec.regionID
                let checkRevision = try await tx.children(HealthCheckSpec.self, of: groupID).map(\.revision).max()
                let inRegion = votes.filter { $0.regionID == region }
                let counted = (inRegion.isEmpty ? votes : inRegion).filter {
                    ResourceLifecycle.acceptsHealth(
                        endpointRevision: endpoint.revision,
                        healthCheckRevision: checkRevision,
                        appliedRevision: $0.appliedRevision
                    )
                }
                guard let verdict = ResourceLifecycle.healthVerdict(counted.map(\.state)), verdict != endpoint.healthState else { continue }
                endpoint.healthState = verdict
                try await tx.update(endpoint)
            }
        }
    }

    /// What a set of views says, without the revisions the PoPs applied.
    static func views(_ votes: [FleetReport.HealthVote]) -> [String] {
        votes.map { "\($0.popID)/\($0.regionID)/\($0.state.rawValue)" }.sorted()
    }
}
