import SQLKit
import SlipstreamModel

/// Versioned schema migrations. Each version runs once, in its own write transaction, and is recorded in
/// `schema_migrations`; append new versions, never edit applied ones. The SQL is portable between SQLite and
/// PostgreSQL.
enum Migrations {
    static let versions: [(version: Int, statements: [String])] = [
        (
            1,
            [
                """
                CREATE TABLE accounts (
                    domain_id TEXT PRIMARY KEY,
                    domain_name TEXT NOT NULL UNIQUE,
                    user_name TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    created_at TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE access_keys (
                    access_key TEXT PRIMARY KEY,
                    domain_id TEXT NOT NULL REFERENCES accounts (domain_id),
                    secret_sealed TEXT NOT NULL,
                    created_at TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE resources (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    domain_id TEXT NOT NULL,
                    parent_id TEXT,
                    name TEXT,
                    enterprise_project_id TEXT,
                    status TEXT NOT NULL,
                    revision BIGINT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    health_state TEXT,
                    spec TEXT NOT NULL
                )
                """,
                "CREATE INDEX resources_by_kind ON resources (kind, domain_id, id)",
                "CREATE INDEX resources_by_parent ON resources (parent_id, kind)",
                "CREATE INDEX resources_by_status ON resources (status, revision)",
                """
                CREATE TABLE addresses (
                    ip_address TEXT PRIMARY KEY,
                    accelerator_id TEXT NOT NULL,
                    area TEXT NOT NULL,
                    ip_type TEXT NOT NULL
                )
                """,
                "CREATE TABLE revisions (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
                "INSERT INTO revisions (name, value) VALUES ('config', 0)",
            ]
        ),
        (
            2,
            [
                // PoPs: `secret_hash` is null for a PoP embedded in `serve`; `report` is its last report as JSON.
                """
                CREATE TABLE pops (
                    id TEXT PRIMARY KEY,
                    region_id TEXT NOT NULL,
                    secret_hash TEXT,
                    created_at TEXT NOT NULL,
                    last_seen_ms BIGINT,
                    report TEXT
                )
                """,
                // What an incremental snapshot reads: the resources of a kind written after a revision.
                "CREATE INDEX resources_by_revision ON resources (kind, revision)",
                // ResourceSpec.quotaUnits beside the spec; filled in for existing rows by `backfill`.
                "ALTER TABLE resources ADD COLUMN quota_units BIGINT NOT NULL DEFAULT 0",
            ]
        ),
        (
            3,
            [
                // The live count per kind every snapshot takes (`status <> 'DELETING'`), from the index alone.
                "CREATE INDEX resources_by_kind_status ON resources (kind, status)"
            ]
        ),
        (
            4,
            [
                // What each account holds of each kind, kept by every insert, update and removal of a resource, so
                // a quota check reads one row instead of counting the account's resources: `resources` rows, and
                // `quota_units` summed as the quotas weigh them (a listener's ports times its accelerator's
                // addresses; 0 for other kinds).
                """
                CREATE TABLE account_usage (
                    domain_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    resources BIGINT NOT NULL,
                    quota_units BIGINT NOT NULL,
                    PRIMARY KEY (domain_id, kind)
                )
                """,
                """
                INSERT INTO account_usage (domain_id, kind, resources, quota_units)
                SELECT domain_id, kind, COUNT(*), 0 FROM resources GROUP BY domain_id, kind
                """,
                """
                UPDATE account_usage SET quota_units = (
                    SELECT COALESCE(SUM(l.quota_units * COALESCE(a.quota_units, 1)), 0) FROM resources l
                    LEFT JOIN resources a ON a.id = l.parent_id AND a.kind = 'accelerator'
                    WHERE l.kind = 'listener' AND l.domain_id = account_usage.domain_id
                ) WHERE kind = 'listener'
                """,
                // `removedThrough`: from the current revision, as removals before it were not tracked.
                "INSERT INTO revisions (name, value) SELECT 'removed', value FROM revisions WHERE name = 'config'",
            ]
        ),
    ]

    /// Sets `quota_units` of the listeners and accelerators written before the column existed.
    static func backfillQuotaUnits(_ db: any SQLDatabase) async throws {
        let transaction = SQLTransaction(db: db)
        for kind in [ResourceKind.listener, .accelerator] {
            for row in try await db.raw("SELECT id, spec FROM resources WHERE kind = \(bind: kind.rawValue)").all() {
                let id = try row.decode(column: "id", as: String.self)
                let units: Int
                switch kind {
                case .listener: units = try await transaction.find(ListenerSpec.self, id: id)?.spec.quotaUnits ?? 0
                default: units = try await transaction.find(AcceleratorSpec.self, id: id)?.spec.quotaUnits ?? 0
                }
                try await db.raw("UPDATE resources SET quota_units = \(bind: units) WHERE id = \(bind: id)").run()
            }
        }
    }

    static func run(on driver: some DatabaseDriver) async throws {
        let lock = driver.migrationLock
        try await driver.write { db in
            if let lock { try await db.raw(lock).run() }
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            ).run()
        }
        for migration in self.versions {
            try await driver.write { db in
                if let lock { try await db.raw(lock).run() }
                let applied = try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)")
                    .first()
                guard applied == nil else { return }
                for statement in migration.statements {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                if migration.version == 2 { try await Self.backfillQuotaUnits(db) }
                try await db.raw(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (\(bind: migration.version), \(bind: Timestamp.now()))"
                ).run()
            }
        }
    }
}
