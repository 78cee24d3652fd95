import SlipstreamModel

/// The control plane's resource model: every GA operation on accelerators, listeners, endpoint groups,
/// endpoints, health checks, IP groups, logtanks and tags, with its rules, each write in one transaction that bumps
/// the configuration revision. Independent of HTTP and SQL: the API layer validates and decodes requests, then calls
/// in here; the rules run over a ``ControlPlaneStore``.
public struct ControlPlane: Sendable {
    public let store: any ControlPlaneStore
    public let settings: ControlPlaneSettings
    let ids = ResourceIDGenerator()
    /// Told the new revision after every committed write (wakes the reconciler).
    let onCommit: @Sendable (Int64) -> Void
    /// The last snapshot built, for the next one to start from.
    let snapshots = SnapshotCache()
    /// Where each pool's next address search starts.
    let addressFloors = AddressFloors()

    public init(store: any ControlPlaneStore, settings: ControlPlaneSettings, onCommit: @escaping @Sendable (Int64) -> Void = { _ in }) {
        self.store = store
        self.settings = settings
        self.onCommit = onCommit
    }

    /// Runs a write transaction that returns a result and the revision it committed.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (any StoreTransaction, _ revision: Int64, _ now: String) async throws -> T
    ) async throws -> T {
        let (result, revision) = try await self.store.write { tx in
            let revision = try await tx.nextRevision()
            return (try await body(tx, revision, Timestamp.now()), revision)
        }
        self.onCommit(revision)
        return result
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        try await self.store.read(body)
    }

    /// Loads a resource of the caller's domain, or throws GA.9002.
    static func require<S: ResourceSpec>(_ type: S.Type, _ id: String, domainID: String, on tx: any StoreTransaction) async throws -> Resource<S> {
        guard let resource = try await tx.find(type, id: id, domainID: domainID) else {
            throw GAError.notFound(S.kind, id)
        }
        return resource
    }

    /// Loads a resource that is about to change or gain children: it must exist and not be going away.
    static func requireOperable<S: ResourceSpec>(
        _ type: S.Type,
        _ id: String,
        domainID: String,
        on tx: any StoreTransaction
    ) async throws -> Resource<S> {
        let resource = try await self.require(type, id, domainID: domainID, on: tx)
        if resource.status == .deleting { throw GAError.notOperable(S.kind, id, status: resource.status) }
        return resource
    }

    /// Marks a resource `DELETING` unless `check`, run first in the same transaction, throws, or children of
    /// `childKinds` still exist (GA.9005). The reconciler removes it once the data plane has let go of it.
    func markDeleting<S: ResourceSpec>(
        _ type: S.Type,
        _ id: String,
        domainID: String,
        blockedBy childKinds: [ResourceKind],
        check: @escaping @Sendable (any StoreTransaction) async throws -> Void = { _ in }
    ) async throws {
        try await self.write { tx, revision, now in
            let resource = try await Self.require(type, id, domainID: domainID, on: tx)
            guard resource.status != .deleting else { return }
            try await check(tx)
            for child in childKinds where try await tx.count(child, domainID: domainID, parentID: id) > 0 {
                throw GAError.inUse(S.kind, id, by: child)
            }
            try await tx.setStatus(S.kind, id: id, .deleting, revision: revision, updatedAt: now)
        }
    }

    /// The current configuration revision.
    public func currentRevision() async throws -> Int64 {
        try await self.read { tx in try await tx.currentRevision() }
    }
}
