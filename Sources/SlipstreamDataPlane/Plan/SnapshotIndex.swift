import SlipstreamModel

/// The applied configuration, indexed the way listener plans and listening sockets are derived from it, and kept up
/// to date change by change: ``apply(_:)`` takes a ``ConfigDelta`` and names the listeners it touched, so an apply's
/// work follows what changed, not the size of the configuration (issue "Cost that does not grow with the whole
/// configuration").
struct SnapshotIndex: Equatable {
    private(set) var accelerators: [String: ConfigSnapshot.AcceleratorConfig] = [:]
    private(set) var listeners: [String: ConfigSnapshot.ListenerConfig] = [:]
    private(set) var groups: [String: ConfigSnapshot.EndpointGroupConfig] = [:]
    private(set) var endpoints: [String: ConfigSnapshot.EndpointConfig] = [:]
    private(set) var healthChecks: [String: ConfigSnapshot.HealthCheckConfig] = [:]
    /// By listener id.
    private(set) var accessControls: [String: ConfigSnapshot.AccessControlConfig] = [:]
    /// By listener id.
    private(set) var logSinks: [String: ConfigSnapshot.LogSinkConfig] = [:]
    private var listenersByAccelerator: [String: Set<String>] = [:]
    private var groupsByListener: [String: Set<String>] = [:]
    private var endpointsByGroup: [String: Set<String>] = [:]

    /// What one ``apply(_:)`` changed.
    struct Changes: Equatable {
        /// Listeners (present or removed) whose plan or sockets may differ now: the listener itself, its
        /// accelerator's addresses, one of its endpoint groups, their endpoints or health checks, its access control
        /// or its log sink changed.
        var listeners: Set<String> = []
        /// Listeners the delta removed.
        var removedListeners: Set<String> = []
        /// Endpoints the delta removed.
        var removedEndpoints: Set<String> = []
        /// Endpoints that took new flows (weight above 0) and take none now: removed, or set to weight 0.
        var leavingEndpoints: Set<String> = []
    }

    init() {}

    /// The index of `snapshot`.
    init(_ snapshot: ConfigSnapshot) {
        _ = self.apply(ConfigDelta(from: ConfigSnapshot(revision: 0), to: snapshot))
    }

    /// Makes the changes of `delta` and returns what they touched. Looks up the old configuration of each changed
    /// entry before replacing it, so a listener that loses a group (or a group that loses an endpoint) counts as
    /// changed as well as one that gains it.
    mutating func apply(_ delta: ConfigDelta) -> Changes {
        var changes = Changes()
        let controls = delta.accessControls.map { Dictionary($0.map { ($0.listenerID, $0) }, uniquingKeysWith: { a, _ in a }) }
        let sinks = delta.logSinks.map { Dictionary($0.map { ($0.listenerID, $0) }, uniquingKeysWith: { a, _ in a }) }
        self.touchOld(delta, controls: controls, sinks: sinks, &changes)
        Self.apply(delta.accelerators, to: &self.accelerators)
        changes.removedListeners = Self.apply(delta.listeners, to: &self.listeners, linkedBy: \.acceleratorID, in: &self.listenersByAccelerator)
        Self.apply(delta.endpointGroups, to: &self.groups, linkedBy: \.listenerID, in: &self.groupsByListener)
        changes.removedEndpoints = Self.apply(delta.endpoints, to: &self.endpoints, linkedBy: \.groupID, in: &self.endpointsByGroup)
        Self.apply(delta.healthChecks, to: &self.healthChecks)
        if let controls { self.accessControls = controls }
        if let sinks { self.logSinks = sinks }
        self.touchNew(delta, &changes)
        return changes
    }

    /// Makes one kind's changes in `entries`, keeping `links` (parent id → ids of its entries) in step; returns the
    /// ids removed.
    @discardableResult
    private static func apply<Entry: SnapshotEntry>(
        _ changes: ConfigDelta.Changes<Entry>,
        to entries: inout [String: Entry],
        linkedBy parent: KeyPath<Entry, String>,
        in links: inout [String: Set<String>]
    ) -> Set<String> {
        var removed: Set<String> = []
        for id in changes.removed {
            guard let old = entries.removeValue(forKey: id) else { continue }
            Self.unlink(id, from: old[keyPath: parent], in: &links)
            removed.insert(id)
        }
        for entry in changes.upserted {
            if let old = entries.updateValue(entry, forKey: entry.id) { Self.unlink(entry.id, from: old[keyPath: parent], in: &links) }
            links[entry[keyPath: parent], default: []].insert(entry.id)
        }
        return removed
    }

    /// Makes one kind's changes in `entries`, which no other kind is looked up by.
    private static func apply<Entry: SnapshotEntry>(_ changes: ConfigDelta.Changes<Entry>, to entries: inout [String: Entry]) {
        for id in changes.removed { entries[id] = nil }
        for entry in changes.upserted { entries[entry.id] = entry }
    }

    /// Marks the listeners the changed entries belong to now (before the delta), and the endpoints that stop taking
    /// flows.
    private func touchOld(
        _ delta: ConfigDelta,
        controls: [String: ConfigSnapshot.AccessControlConfig]?,
        sinks: [String: ConfigSnapshot.LogSinkConfig]?,
        _ changes: inout Changes
    ) {
        for id in delta.accelerators.removed + delta.accelerators.upserted.map(\.id) {
            changes.listeners.formUnion(self.listenersByAccelerator[id] ?? [])
        }
        changes.listeners.formUnion(delta.listeners.removed)
        for id in delta.endpointGroups.removed + delta.endpointGroups.upserted.map(\.id) {
            self.touch(group: self.groups[id], &changes)
        }
        for id in delta.endpoints.removed {
            guard let old = self.endpoints[id] else { continue }
            self.touch(group: self.groups[old.groupID], &changes)
            if old.weight > 0 { changes.leavingEndpoints.insert(id) }
        }
        for endpoint in delta.endpoints.upserted {
            guard let old = self.endpoints[endpoint.id] else { continue }
            self.touch(group: self.groups[old.groupID], &changes)
            if old.weight > 0 && endpoint.weight == 0 { changes.leavingEndpoints.insert(endpoint.id) }
        }
        for id in delta.healthChecks.removed + delta.healthChecks.upserted.map(\.id) {
            self.touch(group: self.healthChecks[id].flatMap { self.groups[$0.groupID] }, &changes)
        }
        if let controls {
            for id in Set(controls.keys).union(self.accessControls.keys) where controls[id] != self.accessControls[id] {
                changes.listeners.insert(id)
            }
        }
        if let sinks {
            for id in Set(sinks.keys).union(self.logSinks.keys) where sinks[id] != self.logSinks[id] { changes.listeners.insert(id) }
        }
    }

    /// Marks the listeners the changed entries belong to after the delta.
    private func touchNew(_ delta: ConfigDelta, _ changes: inout Changes) {
        for accelerator in delta.accelerators.upserted {
            changes.listeners.formUnion(self.listenersByAccelerator[accelerator.id] ?? [])
        }
        changes.listeners.formUnion(delta.listeners.upserted.map(\.id))
        for group in delta.endpointGroups.upserted { changes.listeners.insert(group.listenerID) }
        for endpoint in delta.endpoints.upserted { self.touch(group: self.groups[endpoint.groupID], &changes) }
        for check in delta.healthChecks.upserted { self.touch(group: self.groups[check.groupID], &changes) }
    }

    private func touch(group: ConfigSnapshot.EndpointGroupConfig?, _ changes: inout Changes) {
        if let group { changes.listeners.insert(group.listenerID) }
    }

    private static func unlink(_ id: String, from parent: String, in links: inout [String: Set<String>]) {
        links[parent]?.remove(id)
        if links[parent]?.isEmpty == true { links[parent] = nil }
    }

    /// `listenerID`'s endpoint groups, in id order (the order of the snapshot).
    func groups(of listenerID: String) -> [ConfigSnapshot.EndpointGroupConfig] {
        (self.groupsByListener[listenerID] ?? []).sorted().compactMap { self.groups[$0] }
    }

    /// `groupID`'s endpoints, in id order (the order of the snapshot).
    func endpoints(of groupID: String) -> [ConfigSnapshot.EndpointConfig] {
        (self.endpointsByGroup[groupID] ?? []).sorted().compactMap { self.endpoints[$0] }
    }

    /// The listener whose group holds `endpointID`.
    func listener(ofEndpoint endpointID: String) -> String? {
        self.endpoints[endpointID].flatMap { self.groups[$0.groupID] }?.listenerID
    }

    /// The addresses `listenerID` is served on: its accelerator's.
    func addresses(of listener: ConfigSnapshot.ListenerConfig) -> [String] {
        self.accelerators[listener.acceleratorID]?.addresses ?? []
    }
}
