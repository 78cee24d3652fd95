import SlipstreamModel

extension ControlPlane {
    public func createEndpointGroup(domainID: String, _ options: EndpointGroupOptions.Create) async throws -> EndpointGroup {
        guard self.settings.regions.contains(where: { $0.regionID == options.regionID }) else {
            throw GAError.regionNotEnabled(options.regionID)
        }
        let id = self.ids.next()
        let listenerID = options.listeners[0].id
        return try await self.write { tx, revision, now in
            let listener = try await Self.requireOperable(ListenerSpec.self, listenerID, domainID: domainID, on: tx)
            let existing = try await tx.children(EndpointGroupSpec.self, of: listener.id)
            if existing.contains(where: { $0.spec.regionID == options.regionID }) {
                throw GAError.alreadyExists("endpoint_group of listener \(listener.id) in region \(options.regionID)")
            }
            let group = EndpointGroup(
                id: id,
                domainID: domainID,
                parentID: listener.id,
                name: options.name,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                spec: EndpointGroupSpec(
                    description: options.description ?? "",
                    trafficDialPercentage: options.trafficDialPercentage ?? 100,
                    regionID: options.regionID
                )
            )
            try await tx.insert(group)
            return group
        }
    }

    public func endpointGroup(domainID: String, id: String) async throws -> EndpointGroup {
        try await self.read { tx in try await Self.require(EndpointGroupSpec.self, id, domainID: domainID, on: tx) }
    }

    public func endpointGroups(domainID: String, query: ListQuery) async throws -> Page<EndpointGroupSpec> {
        try await self.read { tx in try await tx.list(EndpointGroupSpec.self, domainID: domainID, query: query) }
    }

    public func updateEndpointGroup(domainID: String, id: String, _ options: EndpointGroupOptions.Update) async throws -> EndpointGroup {
        try await self.write { tx, revision, now in
            var group = try await Self.requireOperable(EndpointGroupSpec.self, id, domainID: domainID, on: tx)
            if let name = options.name { group.name = name }
            if let description = options.description { group.spec.description = description }
            if let dial = options.trafficDialPercentage { group.spec.trafficDialPercentage = dial }
            (group.status, group.revision, group.updatedAt) = (.pending, revision, now)
            try await tx.update(group)
            return group
        }
    }

    public func deleteEndpointGroup(domainID: String, id: String) async throws {
        try await self.markDeleting(EndpointGroupSpec.self, id, domainID: domainID, blockedBy: [.endpoint, .healthCheck])
    }
}
