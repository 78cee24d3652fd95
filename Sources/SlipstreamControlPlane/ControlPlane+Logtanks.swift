import SlipstreamModel

extension ControlPlane {
    public func createLogtank(domainID: String, _ options: LogtankOptions.Create) async throws -> Logtank {
        try LogtankSpec.checkSinkName(options.logGroupID, field: "logtank.log_group_id")
        try LogtankSpec.checkSinkName(options.logStreamID, field: "logtank.log_stream_id")
        let id = self.ids.next()
        return try await self.write { tx, revision, now in
            let listener = try await Self.requireOperable(ListenerSpec.self, options.resourceID, domainID: domainID, on: tx)
            if let existing = try await tx.children(LogtankSpec.self, of: listener.id).first {
                throw GAError.alreadyExists("logtank of listener \(listener.id) (\(existing.id))")
            }
            let logtank = Logtank(
                id: id,
                domainID: domainID,
                parentID: listener.id,
                name: nil,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                spec: LogtankSpec(logGroupID: options.logGroupID, logStreamID: options.logStreamID)
            )
            try await tx.insert(logtank)
            return logtank
        }
    }

    public func logtank(domainID: String, id: String) async throws -> Logtank {
        try await self.read { tx in try await Self.require(LogtankSpec.self, id, domainID: domainID, on: tx) }
    }

    /// Logtanks, optionally only those of `resourceIDs` (listener ids).
    public func logtanks(domainID: String, query: ListQuery, resourceIDs: [String]) async throws -> Page<LogtankSpec> {
        var unlimited = query
        unlimited.limit = ListQuery.everything.limit
        let all = unlimited
        let items = try await self.read { tx in try await tx.list(LogtankSpec.self, domainID: domainID, query: all) }.items
        return Page(slicing: items.filter { resourceIDs.isEmpty || resourceIDs.contains($0.parentID ?? "") }, limit: query.limit)
    }

    public func updateLogtank(domainID: String, id: String, _ options: LogtankOptions.Update) async throws -> Logtank {
        try LogtankSpec.checkSinkName(options.logGroupID, field: "logtank.log_group_id")
        try LogtankSpec.checkSinkName(options.logStreamID, field: "logtank.log_stream_id")
        return try await self.write { tx, revision, now in
            var logtank = try await Self.requireOperable(LogtankSpec.self, id, domainID: domainID, on: tx)
            logtank.spec = LogtankSpec(logGroupID: options.logGroupID, logStreamID: options.logStreamID)
            (logtank.status, logtank.revision, logtank.updatedAt) = (.pending, revision, now)
            try await tx.update(logtank)
            return logtank
        }
    }

    public func deleteLogtank(domainID: String, id: String) async throws {
        try await self.markDeleting(LogtankSpec.self, id, domainID: domainID, blockedBy: [])
    }
}
