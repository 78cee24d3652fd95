import Foundation
import SQLKit
import SlipstreamCore

/// The control plane's resource model: every GA operation on accelerators, listeners, endpoint groups,
/// endpoints and health checks, with its rules, each write in one transaction that bumps the configuration
/// revision. Independent of HTTP: the API layer validates and decodes requests, then calls in here.
public struct ControlPlane: Sendable {
    public let database: any DatabaseDriver
    public let configuration: SlipstreamConfiguration
    let ids = ResourceIDGenerator()
    /// Told the new revision after every committed write (wakes the reconciler).
    let onCommit: @Sendable (Int64) -> Void

    public init(database: any DatabaseDriver, configuration: SlipstreamConfiguration, onCommit: @escaping @Sendable (Int64) -> Void = { _ in }) {
        self.database = database
        self.configuration = configuration
        self.onCommit = onCommit
    }

    /// Runs a write transaction that returns a result and the revision it committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase, _ revision: Int64, _ now: String) async throws -> T) async throws -> T {
        let (result, revision) = try await self.database.write { db in
            let revision = try await ResourceRepository.nextRevision(on: db)
            return (try await body(db, revision, Timestamp.now()), revision)
        }
        self.onCommit(revision)
        return result
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.database.read(body)
    }

    /// Loads a resource of the caller's domain, or throws GA.9002.
    static func require<S: ResourceSpec>(_ type: S.Type, _ id: String, domainID: String, on db: any SQLDatabase) async throws -> Resource<S> {
        guard let resource = try await ResourceRepository.find(type, id: id, domainID: domainID, on: db) else {
            throw GAError.notFound(S.kind, id)
        }
        return resource
    }

    /// Loads a resource that is about to change or gain children: it must exist and not be going away.
    static func requireOperable<S: ResourceSpec>(_ type: S.Type, _ id: String, domainID: String, on db: any SQLDatabase) async throws -> Resource<S> {
        let resource = try await self.require(type, id, domainID: domainID, on: db)
        if resource.status == .deleting { throw GAError.notOperable(S.kind, id, status: resource.status) }
        return resource
    }

    /// Marks a resource `DELETING` unless children of `childKinds` still exist (GA.9005). The reconciler removes
    /// it once the data plane has let go of it.
    func markDeleting<S: ResourceSpec>(_ type: S.Type, _ id: String, domainID: String, blockedBy childKinds: [ResourceKind]) async throws {
        try await self.write { db, revision, _ in
            let resource = try await Self.require(type, id, domainID: domainID, on: db)
            guard resource.status != .deleting else { return }
            for child in childKinds where try await ResourceRepository.count(child, domainID: domainID, parentID: id, on: db) > 0 {
                throw GAError.inUse(S.kind, id, by: child)
            }
            try await ResourceRepository.setStatus(S.kind, id: id, .deleting, revision: revision, on: db)
        }
    }

    /// The current configuration revision.
    public func currentRevision() async throws -> Int64 {
        try await self.read { db in try await ResourceRepository.currentRevision(on: db) }
    }
}
