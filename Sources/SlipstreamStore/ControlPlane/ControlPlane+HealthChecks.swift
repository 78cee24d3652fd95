import SQLKit
import SlipstreamCore

extension ControlPlane {
    public func createHealthCheck(domainID: String, _ options: HealthCheckOptions.Create) async throws -> HealthCheck {
        let spec = HealthCheckSpec(
            protocol: options.protocol,
            port: options.port,
            interval: options.interval,
            timeout: options.timeout,
            maxRetries: options.maxRetries,
            enabled: options.enabled
        )
        try spec.check()
        let id = self.ids.next()
        return try await self.write { db, revision, now in
            let group = try await Self.requireOperable(EndpointGroupSpec.self, options.endpointGroupID, domainID: domainID, on: db)
            if let existing = try await ResourceRepository.children(HealthCheckSpec.self, of: group.id, on: db).first {
                throw GAError.alreadyExists("health_check of endpoint_group \(group.id) (\(existing.id))")
            }
            let check = HealthCheck(
                id: id,
                domainID: domainID,
                parentID: group.id,
                name: nil,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                spec: spec
            )
            try await ResourceRepository.insert(check, on: db)
            try await ResourceRepository.setHealthState(ofEndpointsIn: group.id, to: spec.enabled ? .initial : .noMonitor, on: db)
            return check
        }
    }

    public func healthCheck(domainID: String, id: String) async throws -> HealthCheck {
        try await self.read { db in try await Self.require(HealthCheckSpec.self, id, domainID: domainID, on: db) }
    }

    public func healthChecks(domainID: String, query: ListQuery) async throws -> Page<HealthCheckSpec> {
        try await self.read { db in try await ResourceRepository.list(HealthCheckSpec.self, domainID: domainID, query: query, on: db) }
    }

    public func updateHealthCheck(domainID: String, id: String, _ options: HealthCheckOptions.Update) async throws -> HealthCheck {
        try await self.write { db, revision, now in
            var check = try await Self.requireOperable(HealthCheckSpec.self, id, domainID: domainID, on: db)
            let before = check.spec
            if let value = options.protocol { check.spec.protocol = value }
            if let value = options.port { check.spec.port = value }
            if let value = options.interval { check.spec.interval = value }
            if let value = options.timeout { check.spec.timeout = value }
            if let value = options.maxRetries { check.spec.maxRetries = value }
            if let value = options.enabled { check.spec.enabled = value }
            try check.spec.check()
            (check.status, check.revision, check.updatedAt) = (.pending, revision, now)
            try await ResourceRepository.update(check, on: db)
            if check.spec != before, let groupID = check.parentID {
                // A changed probe starts from no verdict; a disabled one monitors nothing.
                try await ResourceRepository.setHealthState(ofEndpointsIn: groupID, to: check.spec.enabled ? .initial : .noMonitor, on: db)
            }
            return check
        }
    }

    public func deleteHealthCheck(domainID: String, id: String) async throws {
        try await self.write { db, revision, _ in
            let check = try await Self.require(HealthCheckSpec.self, id, domainID: domainID, on: db)
            guard check.status != .deleting else { return }
            try await ResourceRepository.setStatus(.healthCheck, id: id, .deleting, revision: revision, on: db)
            if let groupID = check.parentID {
                try await ResourceRepository.setHealthState(ofEndpointsIn: groupID, to: .noMonitor, on: db)
            }
        }
    }
}
