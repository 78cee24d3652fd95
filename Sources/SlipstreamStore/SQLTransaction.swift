import Foundation
import SQLKit
import SlipstreamControlPlane
import SlipstreamModel

/// The control plane's store on SQL: each transaction of the ``DatabaseDriver`` is a ``SQLTransaction``. The SQL is
/// portable between SQLite and PostgreSQL.
public struct SQLStore: ControlPlaneStore {
    public let driver: any DatabaseDriver

    public init(driver: any DatabaseDriver) {
        self.driver = driver
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        try await self.driver.write { db in try await body(SQLTransaction(db: db)) }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        try await self.driver.read { db in try await body(SQLTransaction(db: db)) }
    }

    public func close() async throws {
        try await self.driver.close()
    }
}

/// One transaction's statements on the `resources`, `addresses`, `accounts`, `access_keys` and `revisions` tables.
struct SQLTransaction: StoreTransaction {
    let db: any SQLDatabase
    static let encoder = JSONEncoder()
    static let decoder = JSONDecoder()

    func insert<S: ResourceSpec>(_ resource: Resource<S>) async throws {
        let spec = String(decoding: try Self.encoder.encode(resource.spec), as: UTF8.self)
        try await self.db.raw(
            """
            INSERT INTO resources (id, kind, domain_id, parent_id, name, enterprise_project_id, status, revision,
                created_at, updated_at, health_state, spec, quota_units)
            VALUES (\(bind: resource.id), \(bind: S.kind.rawValue), \(bind: resource.domainID), \(bind: resource.parentID),
                \(bind: resource.name), \(bind: Self.projectID(of: resource)), \(bind: resource.status.rawValue),
                \(bind: resource.revision), \(bind: resource.createdAt), \(bind: resource.updatedAt),
                \(bind: resource.healthState?.rawValue), \(bind: spec), \(bind: resource.spec.quotaUnits))
            """
        ).run()
        let units = try await self.weightedUnits(S.kind, units: resource.spec.quotaUnits, parentID: resource.parentID)
        try await self.addUsage(domainID: resource.domainID, kind: S.kind, resources: 1, units: units)
    }

    /// Writes back name, status, revision, updated_at, health and spec.
    func update<S: ResourceSpec>(_ resource: Resource<S>) async throws {
        let spec = String(decoding: try Self.encoder.encode(resource.spec), as: UTF8.self)
        // Only a listener's units can change (its ports); an accelerator's addresses are fixed at its creation.
        if S.kind == .listener, let old = try await self.usageRow(.listener, id: resource.id), old.domainID == resource.domainID {
            let before = try await self.weightedUnits(.listener, units: old.units, parentID: old.parentID)
            let after = try await self.weightedUnits(.listener, units: resource.spec.quotaUnits, parentID: old.parentID)
            if before != after { try await self.addUsage(domainID: resource.domainID, kind: .listener, resources: 0, units: after - before) }
        }
        try await self.db.raw(
            """
            UPDATE resources SET name = \(bind: resource.name), status = \(bind: resource.status.rawValue),
                revision = \(bind: resource.revision), updated_at = \(bind: resource.updatedAt),
                health_state = \(bind: resource.healthState?.rawValue), spec = \(bind: spec),
                quota_units = \(bind: resource.spec.quotaUnits)
            WHERE id = \(bind: resource.id) AND kind = \(bind: S.kind.rawValue) AND domain_id = \(bind: resource.domainID)
            """
        ).run()
    }

    func find<S: ResourceSpec>(_: S.Type, id: String) async throws -> Resource<S>? {
        let row = try await self.db.raw("SELECT * FROM resources WHERE id = \(bind: id) AND kind = \(bind: S.kind.rawValue)").first()
        return try row.map(Self.decode)
    }

    func find<S: ResourceSpec>(_: S.Type, id: String, domainID: String) async throws -> Resource<S>? {
        let row = try await self.db.raw(
            "SELECT * FROM resources WHERE id = \(bind: id) AND kind = \(bind: S.kind.rawValue) AND domain_id = \(bind: domainID)"
        ).first()
        return try row.map(Self.decode)
    }

    /// Resources of one kind under `parentID`, in id order.
    func children<S: ResourceSpec>(_: S.Type, of parentID: String) async throws -> [Resource<S>] {
        try await self.db.raw(
            "SELECT * FROM resources WHERE parent_id = \(bind: parentID) AND kind = \(bind: S.kind.rawValue) ORDER BY id"
        ).all().map(Self.decode)
    }

    /// Every resource of a kind, of all accounts, that is not being deleted, in id order.
    func live<S: ResourceSpec>(_: S.Type) async throws -> [Resource<S>] {
        try await self.db.raw(
            "SELECT * FROM resources WHERE kind = \(bind: S.kind.rawValue) AND status <> 'DELETING' ORDER BY id"
        ).all().map(Self.decode)
    }

    func changed<S: ResourceSpec>(_: S.Type, since revision: Int64) async throws -> [Resource<S>] {
        try await self.db.raw(
            "SELECT * FROM resources WHERE kind = \(bind: S.kind.rawValue) AND revision > \(bind: revision) ORDER BY id"
        ).all().map(Self.decode)
    }

    func listenerPorts(domainID: String, except listenerID: String?) async throws -> Int {
        let total = try await self.usage(domainID: domainID, kind: .listener)?.units ?? 0
        guard let listenerID, let except = try await self.usageRow(.listener, id: listenerID), except.domainID == domainID else { return total }
        return total - (try await self.weightedUnits(.listener, units: except.units, parentID: except.parentID))
    }

    /// An account's usage of a kind from `account_usage`, or nil when it never held one.
    private func usage(domainID: String, kind: ResourceKind) async throws -> (resources: Int, units: Int)? {
        let row = try await self.db.raw(
            "SELECT resources, quota_units FROM account_usage WHERE domain_id = \(bind: domainID) AND kind = \(bind: kind.rawValue)"
        ).first()
        return try row.map { (try $0.decode(column: "resources", as: Int.self), try $0.decode(column: "quota_units", as: Int.self)) }
    }

    /// Adds to an account's usage of a kind, in the transaction of the write that changes it.
    private func addUsage(domainID: String, kind: ResourceKind, resources: Int, units: Int) async throws {
        try await self.db.raw(
            """
            INSERT INTO account_usage (domain_id, kind, resources, quota_units)
            VALUES (\(bind: domainID), \(bind: kind.rawValue), \(bind: resources), \(bind: units))
            ON CONFLICT (domain_id, kind) DO UPDATE SET resources = account_usage.resources + excluded.resources,
                quota_units = account_usage.quota_units + excluded.quota_units
            """
        ).run()
    }

    /// What a stored resource adds to its account's usage, or nil when there is no such resource.
    private func usageRow(_ kind: ResourceKind, id: String) async throws -> UsageRow? {
        try await self.db.raw(
            "SELECT domain_id, parent_id, quota_units, revision FROM resources WHERE id = \(bind: id) AND kind = \(bind: kind.rawValue)"
        ).first().map(Self.usageRow)
    }

    private typealias UsageRow = (domainID: String, parentID: String?, units: Int, revision: Int64)

    private static func usageRow(_ row: any SQLRow) throws -> UsageRow {
        (
            try row.decode(column: "domain_id", as: String.self), try row.decode(column: "parent_id", as: String?.self),
            try row.decode(column: "quota_units", as: Int.self), try row.decode(column: "revision", as: Int64.self)
        )
    }

    /// The units a resource weighs in its account's usage: a listener's ports times its accelerator's addresses (1
    /// when the accelerator is not stored); 0 for other kinds.
    private func weightedUnits(_ kind: ResourceKind, units: Int, parentID: String?) async throws -> Int {
        guard kind == .listener else { return 0 }
        guard let parentID else { return units }
        let row = try await self.db.raw("SELECT quota_units FROM resources WHERE id = \(bind: parentID) AND kind = 'accelerator'").first()
        return units * (try row?.decode(column: "quota_units", as: Int.self) ?? 1)
    }

    func removedThrough() async throws -> Int64 {
        try await self.db.raw("SELECT value FROM revisions WHERE name = 'removed'").first()?.decode(column: "value", as: Int64.self) ?? 0
    }

    func liveCount(_ kind: ResourceKind) async throws -> Int {
        try await self.db.raw(
            "SELECT COUNT(*) AS n FROM resources WHERE kind = \(bind: kind.rawValue) AND status <> 'DELETING'"
        ).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func count(_ kind: ResourceKind, domainID: String, parentID: String?) async throws -> Int {
        guard let parentID else { return try await self.usage(domainID: domainID, kind: kind)?.resources ?? 0 }
        return try await self.db.raw(
            """
            SELECT COUNT(*) AS n FROM resources
            WHERE kind = \(bind: kind.rawValue) AND domain_id = \(bind: domainID) AND parent_id = \(bind: parentID)
            """
        ).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func list<S: ResourceSpec>(_: S.Type, domainID: String, query: ListQuery) async throws -> Page<S> {
        var sql: SQLQueryString = "SELECT * FROM resources WHERE kind = \(bind: S.kind.rawValue) AND domain_id = \(bind: domainID)"
        if let id = query.id { sql += " AND id = \(bind: id)" }
        if let name = query.name { sql += " AND name = \(bind: name)" }
        if let status = query.status { sql += " AND status = \(bind: status.rawValue)" }
        if let parentID = query.parentID { sql += " AND parent_id = \(bind: parentID)" }
        if let project = query.enterpriseProjectID { sql += " AND enterprise_project_id = \(bind: project)" }
        if let marker = query.marker {
            sql += query.pageReverse ? " AND id < \(bind: marker)" : " AND id > \(bind: marker)"
        }
        sql += query.pageReverse ? " ORDER BY id DESC" : " ORDER BY id ASC"
        sql += " LIMIT \(bind: query.limit + 1)"
        var items = try await self.db.raw(sql).all().map(Self.decode) as [Resource<S>]
        var nextMarker: String?
        if items.count > query.limit {
            items.removeLast()
            nextMarker = items.last?.id
        }
        return Page(items: items, nextMarker: nextMarker)
    }

    func setStatus(_ kind: ResourceKind, id: String, _ status: ResourceStatus, revision: Int64, updatedAt: String?) async throws {
        var sql: SQLQueryString = "UPDATE resources SET status = \(bind: status.rawValue), revision = \(bind: revision)"
        if let updatedAt { sql += ", updated_at = \(bind: updatedAt)" }
        sql += " WHERE id = \(bind: id) AND kind = \(bind: kind.rawValue)"
        try await self.db.raw(sql).run()
    }

    func remove(_ kind: ResourceKind, id: String) async throws {
        // The row is deleted first and what it held comes back from the delete itself: of two replicas settling the
        // same removal at once, only the one whose delete found the row changes the account's usage (PostgreSQL
        // makes the second delete wait for the first to commit, then find nothing).
        let deleted = try await self.db.raw(
            """
            DELETE FROM resources WHERE id = \(bind: id) AND kind = \(bind: kind.rawValue)
            RETURNING domain_id, parent_id, quota_units, revision
            """
        ).first()
        guard let row = try deleted.map(Self.usageRow) else { return }
        if kind == .accelerator {
            try await self.db.raw("DELETE FROM addresses WHERE accelerator_id = \(bind: id)").run()
        }
        try await self.db.raw("UPDATE revisions SET value = \(bind: row.revision) WHERE name = 'removed' AND value < \(bind: row.revision)").run()
        // A listener's accelerator outlives it (it cannot be removed while it has listeners).
        let units = try await self.weightedUnits(kind, units: row.units, parentID: row.parentID)
        try await self.addUsage(domainID: row.domainID, kind: kind, resources: -1, units: -units)
    }

    func unsettled(atOrBefore revision: Int64, orAmong ids: Set<String>) async throws -> [ResourceState] {
        var rows = try await self.db.raw(
            // Every status but ACTIVE, named, so each is a range of `resources_by_status` (`<>` is not).
            "SELECT id, kind, status, revision FROM resources WHERE status IN ('PENDING', 'ERROR', 'DELETING') AND revision <= \(bind: revision)"
        ).all()
        for id in ids.sorted() {
            rows += try await self.db.raw(
                "SELECT id, kind, status, revision FROM resources WHERE id = \(bind: id) AND status = 'ACTIVE' AND revision <= \(bind: revision)"
            ).all()
        }
        return try rows.map { row in
            ResourceState(
                kind: ResourceKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .accelerator,
                id: try row.decode(column: "id", as: String.self),
                status: ResourceStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .error,
                revision: try row.decode(column: "revision", as: Int64.self)
            )
        }
    }

    func setHealthState(ofEndpointsIn groupID: String, to state: HealthState) async throws {
        try await self.db.raw(
            """
            UPDATE resources SET health_state = \(bind: state.rawValue)
            WHERE parent_id = \(bind: groupID) AND kind = \(bind: ResourceKind.endpoint.rawValue)
            """
        ).run()
    }

    /// Bumps and returns the configuration revision; every committed write carries a new one.
    func nextRevision() async throws -> Int64 {
        try await self.db.raw("UPDATE revisions SET value = value + 1 WHERE name = 'config'").run()
        return try await self.currentRevision()
    }

    func currentRevision() async throws -> Int64 {
        try await self.db.raw("SELECT value FROM revisions WHERE name = 'config'").first()?.decode(column: "value", as: Int64.self) ?? 0
    }

    func addressesInUse(area: Area, ipType: IPType) async throws -> Set<String> {
        Set(
            try await self.db.raw("SELECT ip_address FROM addresses WHERE area = \(bind: area.rawValue) AND ip_type = \(bind: ipType.rawValue)").all()
                .map { try $0.decode(column: "ip_address", as: String.self) }
        )
    }

    func addressesTaken(among addresses: [String]) async throws -> Set<String> {
        guard !addresses.isEmpty else { return [] }
        return Set(
            try await self.db.raw("SELECT ip_address FROM addresses WHERE ip_address IN (\(binds: addresses))").all()
                .map { try $0.decode(column: "ip_address", as: String.self) }
        )
    }

    func reserveAddress(_ address: String, acceleratorID: String, area: Area, ipType: IPType) async throws {
        try await self.db.raw(
            """
            INSERT INTO addresses (ip_address, accelerator_id, area, ip_type)
            VALUES (\(bind: address), \(bind: acceleratorID), \(bind: area.rawValue), \(bind: ipType.rawValue))
            """
        ).run()
    }

    func insertAccount(_ account: StoredAccount, accessKey: String, sealedSecret: String, createdAt: String) async throws {
        let caller = account.caller
        if try await self.db.raw("SELECT domain_id FROM accounts WHERE domain_name = \(bind: caller.domainName)").first() != nil {
            throw GAError(status: 409, code: "IAM.0001", message: "account \(caller.domainName) already exists")
        }
        try await self.db.raw(
            """
            INSERT INTO accounts (domain_id, domain_name, user_name, password_hash, created_at)
            VALUES (\(bind: caller.domainID), \(bind: caller.domainName), \(bind: caller.userName), \(bind: account.passwordHash),
                \(bind: createdAt))
            """
        ).run()
        try await self.db.raw(
            """
            INSERT INTO access_keys (access_key, domain_id, secret_sealed, created_at)
            VALUES (\(bind: accessKey), \(bind: caller.domainID), \(bind: sealedSecret), \(bind: createdAt))
            """
        ).run()
    }

    func account(domainID: String) async throws -> StoredAccount? {
        try await self.db.raw("SELECT * FROM accounts WHERE domain_id = \(bind: domainID)").first().map(Self.account)
    }

    func account(domainName: String, userName: String) async throws -> StoredAccount? {
        try await self.db.raw(
            "SELECT * FROM accounts WHERE domain_name = \(bind: domainName) AND user_name = \(bind: userName)"
        ).first().map(Self.account)
    }

    func accessKey(_ accessKey: String) async throws -> (sealedSecret: String, account: StoredAccount)? {
        let row = try await self.db.raw(
            """
            SELECT k.secret_sealed, a.domain_id, a.domain_name, a.user_name, a.password_hash FROM access_keys k
            JOIN accounts a ON a.domain_id = k.domain_id WHERE k.access_key = \(bind: accessKey)
            """
        ).first()
        guard let row else { return nil }
        return (try row.decode(column: "secret_sealed", as: String.self), try Self.account(row))
    }

    func accountCount() async throws -> Int {
        try await self.db.raw("SELECT COUNT(*) AS n FROM accounts").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    func insertPoP(_ pop: StoredPoP) async throws {
        if try await self.pop(id: pop.id) != nil { throw GAError.alreadyExists("PoP \(pop.id)") }
        try await self.db.raw(
            """
            INSERT INTO pops (id, region_id, secret_hash, created_at, last_seen_ms, report)
            VALUES (\(bind: pop.id), \(bind: pop.regionID), \(bind: pop.secretHash), \(bind: pop.createdAt),
                \(bind: pop.lastSeenMilliseconds), \(bind: try pop.report.map(Self.json)))
            """
        ).run()
    }

    func pop(id: String) async throws -> StoredPoP? {
        try await self.db.raw("SELECT * FROM pops WHERE id = \(bind: id)").first().map(Self.pop)
    }

    func pops() async throws -> [StoredPoP] {
        try await self.db.raw("SELECT * FROM pops ORDER BY id").all().map(Self.pop)
    }

    func recordRemoteReport(_ report: PoPReport, popID: String, secretHash: String, seenAtMilliseconds: Int64) async throws -> Bool {
        try await self.db.raw(
            """
            UPDATE pops SET last_seen_ms = \(bind: seenAtMilliseconds), report = \(bind: try Self.json(report))
            WHERE id = \(bind: popID) AND secret_hash = \(bind: secretHash) RETURNING id
            """
        ).first() != nil
    }

    func deletePoP(id: String) async throws -> Bool {
        try await self.db.raw("DELETE FROM pops WHERE id = \(bind: id) RETURNING id").first() != nil
    }

    func setPoPSecret(id: String, secretHash: String) async throws -> Bool {
        try await self.db.raw("UPDATE pops SET secret_hash = \(bind: secretHash) WHERE id = \(bind: id) RETURNING id").first() != nil
    }

    func recordReport(_ report: PoPReport, popID: String, regionID: String, seenAtMilliseconds: Int64) async throws {
        // One statement, so two replicas taking the first report of one PoP at once cannot both insert it.
        try await self.db.raw(
            """
            INSERT INTO pops (id, region_id, secret_hash, created_at, last_seen_ms, report)
            VALUES (\(bind: popID), \(bind: regionID), NULL, \(bind: Timestamp.now()), \(bind: seenAtMilliseconds),
                \(bind: try Self.json(report)))
            ON CONFLICT (id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, report = excluded.report
            """
        ).run()
    }

    static func json(_ report: PoPReport) throws -> String {
        String(decoding: try Self.encoder.encode(report), as: UTF8.self)
    }

    static func pop(_ row: any SQLRow) throws -> StoredPoP {
        StoredPoP(
            id: try row.decode(column: "id", as: String.self),
            regionID: try row.decode(column: "region_id", as: String.self),
            secretHash: try row.decode(column: "secret_hash", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: String.self),
            lastSeenMilliseconds: try row.decode(column: "last_seen_ms", as: Int64?.self),
            report: try row.decode(column: "report", as: String?.self).map { try Self.decoder.decode(PoPReport.self, from: Data($0.utf8)) }
        )
    }

    static func account(_ row: any SQLRow) throws -> StoredAccount {
        StoredAccount(
            caller: Caller(
                domainID: try row.decode(column: "domain_id", as: String.self),
                domainName: try row.decode(column: "domain_name", as: String.self),
                userName: try row.decode(column: "user_name", as: String.self)
            ),
            passwordHash: try row.decode(column: "password_hash", as: String.self)
        )
    }

    static func decode<S: ResourceSpec>(_ row: any SQLRow) throws -> Resource<S> {
        let spec = try row.decode(column: "spec", as: String.self)
        return Resource(
            id: try row.decode(column: "id", as: String.self),
            domainID: try row.decode(column: "domain_id", as: String.self),
            parentID: try row.decode(column: "parent_id", as: String?.self),
            name: try row.decode(column: "name", as: String?.self),
            status: ResourceStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .error,
            revision: try row.decode(column: "revision", as: Int64.self),
            createdAt: try row.decode(column: "created_at", as: String.self),
            updatedAt: try row.decode(column: "updated_at", as: String.self),
            healthState: try row.decode(column: "health_state", as: String?.self).flatMap(HealthState.init(rawValue:)),
            spec: try Self.decoder.decode(S.self, from: Data(spec.utf8))
        )
    }

    private static func projectID<S>(of resource: Resource<S>) -> String? {
        (resource.spec as? AcceleratorSpec)?.enterpriseProjectID
    }
}
