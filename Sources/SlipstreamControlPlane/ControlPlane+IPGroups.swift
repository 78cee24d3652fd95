import SlipstreamModel

extension ControlPlane {
    public func createIPGroup(domainID: String, _ options: IPGroupOptions.Create) async throws -> IPGroup {
        let id = self.ids.next()
        let quota = self.settings.quotas.ipGroupsPerAccount
        return try await self.write { tx, revision, now in
            let entries = try IPGroupOptions.normalise(options.ipList ?? [], field: "ip_group.ip_list", now: now)
            if try await tx.count(.ipGroup, domainID: domainID) >= quota {
                throw GAError.quota("ip_group_per_tenant (\(quota))")
            }
            let group = IPGroup(
                id: id,
                domainID: domainID,
                parentID: nil,
                name: options.name,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                spec: IPGroupSpec(description: options.description ?? "", ipList: entries, associatedListeners: [])
            )
            try await tx.insert(group)
            return group
        }
    }

    public func ipGroup(domainID: String, id: String) async throws -> IPGroup {
        try await self.read { tx in try await Self.require(IPGroupSpec.self, id, domainID: domainID, on: tx) }
    }

    /// IP groups, optionally only those bound to `listenerID` (an account has at most a few dozen).
    public func ipGroups(domainID: String, query: ListQuery, listenerID: String?) async throws -> Page<IPGroupSpec> {
        guard let listenerID else {
            return try await self.read { tx in try await tx.list(IPGroupSpec.self, domainID: domainID, query: query) }
        }
        var unlimited = query
        unlimited.limit = ListQuery.everything.limit
        let all = unlimited
        let groups = try await self.read { tx in try await tx.list(IPGroupSpec.self, domainID: domainID, query: all) }
        return Page(slicing: groups.items.filter { $0.spec.associatedListeners.contains { $0.listenerID == listenerID } }, limit: query.limit)
    }

    public func updateIPGroup(domainID: String, id: String, _ options: IPGroupOptions.Update) async throws -> IPGroup {
        try await self.changeIPGroup(domainID: domainID, id: id) { group, _, _ in
            if let name = options.name { group.name = name }
            if let description = options.description { group.spec.description = description }
        }
    }

    public func addIPs(domainID: String, id: String, _ options: IPGroupOptions.AddIPs) async throws {
        _ = try await self.changeIPGroup(domainID: domainID, id: id) { group, _, now in
            let added = try IPGroupOptions.normalise(options.ipList, field: "ip_list", existing: group.spec.ipList, now: now)
            if group.spec.ipList.count + added.count > IPGroupSpec.maxEntries {
                throw GAError.quota("ip_per_ip_group (\(IPGroupSpec.maxEntries))")
            }
            group.spec.ipList += added
        }
    }

    public func removeIPs(domainID: String, id: String, _ options: IPGroupOptions.RemoveIPs) async throws {
        _ = try await self.changeIPGroup(domainID: domainID, id: id) { group, _, _ in
            var remaining = group.spec.ipList
            for (index, text) in options.ipList.enumerated() {
                guard let block = CIDR(parsing: text), let position = remaining.firstIndex(where: { $0.cidr == block.description }) else {
                    throw GAError.invalid("ip_list[\(index)]", "\(text) is not in IP group \(group.id)")
                }
                remaining.remove(at: position)
            }
            group.spec.ipList = remaining
        }
    }

    public func associateListener(domainID: String, id: String, _ options: IPGroupOptions.Associate) async throws {
        _ = try await self.changeIPGroup(domainID: domainID, id: id) { group, tx, _ in
            let listener = try await Self.requireOperable(ListenerSpec.self, options.listenerID, domainID: domainID, on: tx)
            if let holder = try await Self.ipGroup(associatedWith: listener.id, domainID: domainID, on: tx) {
                throw GAError.alreadyExists("access control of listener \(listener.id) (ip_group \(holder.id))")
            }
            if group.spec.associatedListeners.count >= IPGroupSpec.maxListeners {
                throw GAError.quota("listener_per_ip_group (\(IPGroupSpec.maxListeners))")
            }
            group.spec.associatedListeners.append(ListenerAccessControl(listenerID: listener.id, type: options.type))
        }
    }

    public func disassociateListener(domainID: String, id: String, _ options: IPGroupOptions.Disassociate) async throws {
        _ = try await self.changeIPGroup(domainID: domainID, id: id) { group, _, _ in
            guard group.spec.associatedListeners.contains(where: { $0.listenerID == options.listenerID }) else {
                throw GAError.invalid("listener_id", "listener \(options.listenerID) is not associated with IP group \(group.id)")
            }
            group.spec.associatedListeners.removeAll { $0.listenerID == options.listenerID }
        }
    }

    public func deleteIPGroup(domainID: String, id: String) async throws {
        try await self.write { tx, revision, now in
            let group = try await Self.require(IPGroupSpec.self, id, domainID: domainID, on: tx)
            guard group.status != .deleting else { return }
            if let bound = group.spec.associatedListeners.first {
                throw GAError(status: 409, code: "GA.9005", message: "Found ip_group \(id) is associated by listener \(bound.listenerID)")
            }
            try await tx.setStatus(.ipGroup, id: id, .deleting, revision: revision, updatedAt: now)
        }
    }

    /// Applies `change` to an operable IP group in one transaction and marks it `PENDING`.
    private func changeIPGroup(
        domainID: String,
        id: String,
        _ change: @escaping @Sendable (inout IPGroup, any StoreTransaction, String) async throws -> Void
    ) async throws -> IPGroup {
        try await self.write { tx, revision, now in
            var group = try await Self.requireOperable(IPGroupSpec.self, id, domainID: domainID, on: tx)
            try await change(&group, tx, now)
            (group.status, group.revision, group.updatedAt) = (.pending, revision, now)
            try await tx.update(group)
            return group
        }
    }

    /// The IP group bound to a listener, if any (a listener has at most one).
    static func ipGroup(associatedWith listenerID: String, domainID: String, on tx: any StoreTransaction) async throws -> IPGroup? {
        try await tx.all(IPGroupSpec.self, domainID: domainID)
            .first { group in group.status != .deleting && group.spec.associatedListeners.contains { $0.listenerID == listenerID } }
    }
}
