import SQLKit
import SlipstreamCore

extension ControlPlane {
    public func createEndpoint(domainID: String, groupID: String, _ options: EndpointOptions.Create) async throws -> Endpoint {
        try options.checkAddress()
        let id = self.ids.next()
        let quota = self.configuration.quotas.endpointsPerGroup
        return try await self.write { db, revision, now in
            let group = try await Self.requireOperable(EndpointGroupSpec.self, groupID, domainID: domainID, on: db)
            let siblings = try await ResourceRepository.children(EndpointSpec.self, of: group.id, on: db)
            if siblings.count >= quota {
                throw GAError.quota("endpoint_per_endpoint_group (\(quota))")
            }
            if let twin = siblings.first(where: { $0.spec.resourceID == options.resourceID || $0.spec.ipAddress == options.ipAddress }) {
                throw GAError.alreadyExists("endpoint \(options.resourceID) (\(options.ipAddress)) as \(twin.id)")
            }
            let check = try await ResourceRepository.children(HealthCheckSpec.self, of: group.id, on: db).first
            let endpoint = Endpoint(
                id: id,
                domainID: domainID,
                parentID: group.id,
                name: nil,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                healthState: (check?.spec.enabled == true ? HealthState.initial : .noMonitor).rawValue,
                spec: EndpointSpec(
                    resourceID: options.resourceID,
                    resourceType: options.resourceType,
                    weight: options.weight ?? 1,
                    ipAddress: options.ipAddress
                )
            )
            try await ResourceRepository.insert(endpoint, on: db)
            return endpoint
        }
    }

    public func endpoint(domainID: String, groupID: String, id: String) async throws -> Endpoint {
        try await self.read { db in try await Self.requireEndpoint(id, groupID: groupID, domainID: domainID, on: db) }
    }

    public func endpoints(domainID: String, groupID: String, query: ListQuery) async throws -> Page<EndpointSpec> {
        try await self.read { db in
            let group = try await Self.require(EndpointGroupSpec.self, groupID, domainID: domainID, on: db)
            var query = query
            query.parentID = group.id
            return try await ResourceRepository.list(EndpointSpec.self, domainID: domainID, query: query, on: db)
        }
    }

    public func updateEndpoint(domainID: String, groupID: String, id: String, _ options: EndpointOptions.Update) async throws -> Endpoint {
        try await self.write { db, revision, now in
            var endpoint = try await Self.requireEndpoint(id, groupID: groupID, domainID: domainID, on: db)
            if endpoint.status == .deleting { throw GAError.notOperable(.endpoint, id, status: endpoint.status) }
            if let weight = options.weight { endpoint.spec.weight = weight }
            (endpoint.status, endpoint.revision, endpoint.updatedAt) = (.pending, revision, now)
            try await ResourceRepository.update(endpoint, on: db)
            return endpoint
        }
    }

    public func deleteEndpoint(domainID: String, groupID: String, id: String) async throws {
        try await self.write { db, revision, _ in
            let endpoint = try await Self.requireEndpoint(id, groupID: groupID, domainID: domainID, on: db)
            guard endpoint.status != .deleting else { return }
            try await ResourceRepository.setStatus(.endpoint, id: id, .deleting, revision: revision, on: db)
        }
    }

    /// An endpoint of the caller's domain inside the named group (GA.9002 for either).
    static func requireEndpoint(_ id: String, groupID: String, domainID: String, on db: any SQLDatabase) async throws -> Endpoint {
        let group = try await Self.require(EndpointGroupSpec.self, groupID, domainID: domainID, on: db)
        let endpoint = try await Self.require(EndpointSpec.self, id, domainID: domainID, on: db)
        guard endpoint.parentID == group.id else { throw GAError.notFound(.endpoint, id) }
        return endpoint
    }
}
