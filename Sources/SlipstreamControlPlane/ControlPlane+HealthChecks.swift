import SlipstreamModel

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
        return try await self.write { tx, revision, now in
            let group = try await Self.requireOperable(EndpointGroupSpec.self, options.endpointGroupID, domainID: domainID, on: tx)
            if let existing = try await tx.children(HealthCheckSpec.self, of: group.id).first {
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
            try await tx.insert(check)
            try await tx.setHealthState(ofEndpointsIn: group.id, to: spec.enabled ? .initial : .noMonitor)
            return check
        }
    }

    public func healthCheck(domainID: String, id: String) async throws -> HealthCheck {
        try await self.read { tx in try await Self.require(HealthCheckSpec.self, id, domainID: domainID, on: tx) }
    }

    public func healthChecks(domainID: String, query: ListQuery) async throws -> Page<HealthCheckSpec> {
        try await self.read { tx in try await tx.list(HealthCheckSpec.self, domainID: domainID, query: query) }
    }

    public func updateHealthCheck(domainID: String, id: String, _ options: HealthCheckOptions.Update) async throws -> HealthCheck {
        try await self.write { tx, revision, now in
            var check = try await Self.requireOperable(HealthCheckSpec.self, id, domainID: domainID, on: tx)
            let before = check.spec
            if let value = options.protocol { check.spec.protocol = value }
            if let value = options.port { check.spec.port = value }
            if let value = options.interval { check.spec.interval = value }
            if let value = options.timeout { check.spec.timeout = value }
            if let value = options.maxRetries { check.spec.maxRetries = value }
            if let value = options.enabled { check.spec.enabled = value }
            try check.spec.check()
            (check.status, check.revision, check.updatedAt) = (.pending, revision, now)
            try await tx.update(check)
            if check.spec != before, let groupID = check.parentID {
                // A changed probe starts from no verdict; a disabled one monitors nothing.
                try await tx.setHealthState(ofEndpointsIn: groupID, to: check.spec.enabled ? .initial : .noMonitor)
            }
            return check
        }
    }

    public func deleteHealthCheck(domainID: String, id: String) async throws {
        try await self.write { tx, revision, now in
            let check = try await Self.require(HealthCheckSpec.self, id, domainID: domainID, on: tx)
            guard check.status != .deleting else { return }
            try await tx.setStatus(.healthCheck, id: id, .deleting, revision: revision, updatedAt: now)
            if let groupID = check.parentID {
                try await tx.setHealthState(ofEndpointsIn: groupID, to: .noMonitor)
            }
        }
    }
}
