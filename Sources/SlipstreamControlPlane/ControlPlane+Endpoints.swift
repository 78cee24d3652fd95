import SlipstreamModel

extension ControlPlane {
    public func createEndpoint(domainID: String, groupID: String, _ options: EndpointOptions.Create) async throws -> Endpoint {
        try options.checkAddress()
        let id = self.ids.next()
        let quota = self.settings.quotas.endpointsPerGroup
        return try await self.write { tx, revision, now in
            let group = try await Self.requireOperable(EndpointGroupSpec.self, groupID, domainID: domainID, on: tx)
            let siblings = try await tx.children(EndpointSpec.self, of: group.id)
            if siblings.count >= quota {
                throw GAError.quota("endpoint_per_endpoint_group (\(quota))")
            }
            if let twin = siblings.first(where: { $0.spec.resourceID == options.resourceID || $0.spec.ipAddress == options.ipAddress }) {
                throw GAError.alreadyExists("endpoint \(options.resourceID) (\(options.ipAddress)) as \(twin.id)")
            }
            // A check on its way out monitors nothing: its group's endpoints were set NO_MONITOR when it was deleted.
            let check = try await tx.children(HealthCheckSpec.self, of: group.id).first { $0.status != .deleting }
            let endpoint = Endpoint(
                id: id,
                domainID: domainID,
                parentID: group.id,
                name: nil,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                healthState: check?.spec.enabled == true ? .initial : .noMonitor,
                spec: EndpointSpec(
                    resourceID: options.resourceID,
                    resourceType: options.resourceType,
                    weight: options.weight ?? 1,
                    ipAddress: options.ipAddress
                )
            )
            try await tx.insert(endpoint)
            return endpoint
        }
    }

    public func endpoint(domainID: String, groupID: String, id: String) async throws -> Endpoint {
        try await self.read { tx in try await Self.requireEndpoint(id, groupID: groupID, domainID: domainID, on: tx) }
    }

    public func endpoints(domainID: String, groupID: String, query: ListQuery) async throws -> Page<EndpointSpec> {
        try await self.read { tx in
            let group = try await Self.require(EndpointGroupSpec.self, groupID, domainID: domainID, on: tx)
            var query = query
            query.parentID = group.id
            return try await tx.list(EndpointSpec.self, domainID: domainID, query: query)
        }
    }

    public func updateEndpoint(domainID: String, groupID: String, id: String, _ options: EndpointOptions.Update) async throws -> Endpoint {
        try await self.write { tx, revision, now in
            var endpoint = try await Self.requireEndpoint(id, groupID: groupID, domainID: domainID, on: tx)
            if endpoint.status == .deleting { throw GAError.notOperable(.endpoint, id, status: endpoint.status) }
            if let weight = options.weight { endpoint.spec.weight = weight }
            (endpoint.status, endpoint.revision, endpoint.updatedAt) = (.pending, revision, now)
            try await tx.update(endpoint)
            return endpoint
        }
    }

    public func deleteEndpoint(domainID: String, groupID: String, id: String) async throws {
        try await self.write { tx, revision, now in
            let endpoint = try await Self.requireEndpoint(id, groupID: groupID, domainID: domainID, on: tx)
            guard endpoint.status != .deleting else { return }
            try await tx.setStatus(.endpoint, id: id, .deleting, revision: revision, updatedAt: now)
        }
    }

    /// An endpoint of the caller's domain inside the named group (GA.9002 for either).
    static func requireEndpoint(_ id: String, groupID: String, domainID: String, on tx: any StoreTransaction) async throws -> Endpoint {
        let group = try await Self.require(EndpointGroupSpec.self, groupID, domainID: domainID, on: tx)
        let endpoint = try await Self.require(EndpointSpec.self, id, domainID: domainID, on: tx)
        guard endpoint.parentID == group.id else { throw GAError.notFound(.endpoint, id) }
        return endpoint
    }
}
