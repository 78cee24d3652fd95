import SlipstreamModel

extension ControlPlane {
    public func createListener(domainID: String, _ options: ListenerOptions.Create) async throws -> Listener {
        let tags = options.tags ?? []
        try ResourceTag.check(tags)
        try PortRange.check(options.portRanges, protocol: options.protocol)
        let id = self.ids.next()
        let quota = self.settings.quotas.listenersPerAccelerator
        return try await self.write { tx, revision, now in
            let accelerator = try await Self.requireOperable(AcceleratorSpec.self, options.acceleratorID, domainID: domainID, on: tx)
            if try await tx.count(.listener, domainID: domainID, parentID: accelerator.id) >= quota {
                throw GAError.quota("listener_per_accelerator (\(quota))")
            }
            try await Self.checkNoOverlap(options.portRanges, acceleratorID: accelerator.id, except: nil, on: tx)
            try await self.checkPortQuota(options.portRanges, addresses: accelerator.spec.ipSets.count, domainID: domainID, except: nil, on: tx)
            let listener = Listener(
                id: id,
                domainID: domainID,
                parentID: accelerator.id,
                name: options.name,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                spec: ListenerSpec(
                    description: options.description ?? "",
                    protocol: options.protocol,
                    portRanges: options.portRanges,
                    clientAffinity: options.clientAffinity ?? .none,
                    tags: tags
                )
            )
            try await tx.insert(listener)
            return listener
        }
    }

    public func listener(domainID: String, id: String) async throws -> Listener {
        try await self.read { tx in try await Self.require(ListenerSpec.self, id, domainID: domainID, on: tx) }
    }

    public func listeners(domainID: String, query: ListQuery) async throws -> Page<ListenerSpec> {
        try await self.read { tx in try await tx.list(ListenerSpec.self, domainID: domainID, query: query) }
    }

    public func updateListener(domainID: String, id: String, _ options: ListenerOptions.Update) async throws -> Listener {
        try await self.write { tx, revision, now in
            var listener = try await Self.requireOperable(ListenerSpec.self, id, domainID: domainID, on: tx)
            if let ranges = options.portRanges {
                try PortRange.check(ranges, protocol: listener.spec.protocol)
                try await Self.checkNoOverlap(ranges, acceleratorID: listener.parentID ?? "", except: listener.id, on: tx)
                let accelerator = try await tx.find(AcceleratorSpec.self, id: listener.parentID ?? "", domainID: domainID)
                try await self.checkPortQuota(ranges, addresses: accelerator?.spec.ipSets.count ?? 1, domainID: domainID, except: listener.id, on: tx)
                listener.spec.portRanges = ranges
            }
            if let name = options.name { listener.name = name }
            if let description = options.description { listener.spec.description = description }
            if let affinity = options.clientAffinity { listener.spec.clientAffinity = affinity }
            (listener.status, listener.revision, listener.updatedAt) = (.pending, revision, now)
            try await tx.update(listener)
            return listener
        }
    }

    /// Marks a listener `DELETING`; refused (GA.9005) while endpoint groups, a logtank or an IP group's access control
    /// hang on it. The IP-group check runs in the same write transaction, so an association committed meanwhile
    /// cannot slip past it.
    public func deleteListener(domainID: String, id: String) async throws {
        try await self.markDeleting(ListenerSpec.self, id, domainID: domainID, blockedBy: [.endpointGroup, .logtank]) { tx in
            if let group = try await Self.ipGroup(associatedWith: id, domainID: domainID, on: tx) {
                throw GAError.inUse(.listener, id, by: .ipGroup).with(detail: "ip_group \(group.id)")
            }
        }
    }

    /// GA.9103 when a listener with `ranges` on an accelerator with `addresses` addresses would take the account past
    /// its listener-port quota (``Quotas/listenerPortsPerAccount``). The message gives the numbers.
    func checkPortQuota(_ ranges: [PortRange], addresses: Int, domainID: String, except listenerID: String?, on tx: any StoreTransaction) async throws
    {
        let quota = self.settings.quotas.listenerPortsPerAccount
        let needed = PortRange.portCount(ranges) * addresses
        let used = try await Self.listenerPorts(domainID: domainID, except: listenerID, on: tx)
        if used + needed > quota {
            throw GAError.quota(
                "listener_port_per_tenant (\(quota)): this listener needs \(needed) port(s) (\(PortRange.portCount(ranges)) port(s) × \(addresses) address(es)), \(used) in use"
            )
        }
    }

    /// The listener ports an account holds: per listener, the ports of its ranges times its accelerator's addresses,
    /// which is the number of sockets the data plane binds for it. Deleting listeners count until they are gone.
    static func listenerPorts(domainID: String, except listenerID: String? = nil, on tx: any StoreTransaction) async throws -> Int {
        try await tx.listenerPorts(domainID: domainID, except: listenerID)
    }

    /// GA.9101 when `ranges` overlap a range of another listener on the same accelerator.
    static func checkNoOverlap(_ ranges: [PortRange], acceleratorID: String, except listenerID: String?, on tx: any StoreTransaction) async throws {
        for sibling in try await tx.children(ListenerSpec.self, of: acceleratorID) where sibling.id != listenerID {
            for range in ranges {
                if let other = sibling.spec.portRanges.first(where: { $0.overlaps(range) }) {
                    throw GAError.portRanges(
                        "\(range.fromPort)-\(range.toPort) overlaps \(other.fromPort)-\(other.toPort) of listener \(sibling.id)"
                    )
                }
            }
        }
    }
}
