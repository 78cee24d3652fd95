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
        self.touchOld(delta, &changes)
        for id in delta.accelerators.removed { self.accelerators[id] = nil }
        for accelerator in delta.accelerators.upserted { self.accelerators[accelerator.id] = accelerator }
        for id in delta.listeners.removed {
            if let old = self.listeners.removeValue(forKey: id) {
                Self.unlink(id, from: old.acceleratorID, in: &self.listenersByAccelerator)
                changes.removedListeners.insert(id)
            }
        }
        for listener in delta.listeners.upserted {
            if let old = self.listeners.updateValue(listener, forKey: listener.id) {
                Self.unlink(listener.id, from: old.acceleratorID, in: &self.listenersByAccelerator)
            }
            self.listenersByAccelerator[listener.acceleratorID, default: []].insert(listener.id)
        }
        for id in delta.endpointGroups.removed {
            if let old = self.groups.removeValue(forKey: id) { Self.unlink(id, from: old.listenerID, in: &self.groupsByListener) }
        }
        for group in delta.endpointGroups.upserted {
            if let old = self.groups.updateValue(group, forKey: group.id) {
                Self.unlink(group.id, from: old.listenerID, in: &self.groupsByListener)
            }
            self.groupsByListener[group.listenerID, default: []].insert(group.id)
        }
        for id in delta.endpoints.removed {
            if let old = self.endpoints.removeValue(forKey: id) {
                Self.unlink(id, from: old.groupID, in: &self.endpointsByGroup)
                changes.removedEndpoints.insert(id)
            }
        }
        for endpoint in delta.endpoints.upserted {
            if let old = self.endpoints.updateValue(endpoint, forKey: endpoint.id) {
                Self.unlink(endpoint.id, from: old.groupID, in: &self.endpointsByGroup)
            }
            self.endpointsByGroup[endpoint.groupID, default: []].insert(endpoint.id)
        }
        for id in delta.healthChecks.removed { self.healthChecks[id] = nil }
        for check in delta.healthChecks.upserted { self.healthChecks[check.id] = check }
        if let controls = delta.accessControls {
            self.accessControls = Dictionary(controls.map { ($0.listenerID, $0) }, uniquingKeysWith: { a, _ in a })
        }
        if let sinks = delta.logSinks {
            self.logSinks = Dictionary(sinks.map { ($0.listenerID, $0) }, uniquingKeysWith: { a, _ in a })
        }
        self.touchNew(delta, &changes)
        return changes
    }

    /// Marks the listeners the changed entries belong to now (before the delta), and the endpoints that stop taking
    /// flows.
    private func touchOld(_ delta: ConfigDelta, _ changes: inout Changes) {
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
        if let controls = delta.accessControls {
            let next = Dictionary(controls.map { ($0.listenerID, $0) }, uniquingKeysWith: { a, _ in a })
            for id in Set(next.keys).union(self.accessControls.keys) where next[id] != self.accessControls[id] {
                changes.listeners.insert(id)
            }
        }
        if let sinks = delta.logSinks {
            let next = Dictionary(sinks.map { ($0.listenerID, $0) }, uniquingKeysWith: { a, _ in a })
            for id in Set(next.keys).union(self.logSinks.keys) where next[id] != self.logSinks[id] { changes.listeners.insert(id) }
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
