import Foundation
import SQLKit
import SlipstreamCore

/// Filters and paging of a list operation.
public struct ListQuery: Sendable, Equatable {
    public var limit = 500
    public var marker: String?
    public var pageReverse = false
    public var id: String?
    public var name: String?
    public var status: ResourceStatus?
    public var parentID: String?
    public var enterpriseProjectID: String?

    public init() {}
}

/// One page of a list.
public struct Page<Spec: ResourceSpec>: Sendable {
    public var items: [Resource<Spec>]
    /// Id of this page's last item when more items follow, else nil.
    public var nextMarker: String?
}

/// SQL for the `resources` table, shared by every kind. All statements are scoped to a domain unless they say
/// otherwise, which is what keeps accounts apart.
enum ResourceRepository {
    static let encoder = JSONEncoder()
    static let decoder = JSONDecoder()

    static func insert<S>(_ resource: Resource<S>, on db: any SQLDatabase) async throws {
        let spec = String(decoding: try self.encoder.encode(resource.spec), as: UTF8.self)
        try await db.raw(
            """
            INSERT INTO resources (id, kind, domain_id, parent_id, name, enterprise_project_id, status, revision,
                created_at, updated_at, health_state, spec)
            VALUES (\(bind: resource.id), \(bind: S.kind.rawValue), \(bind: resource.domainID), \(bind: resource.parentID),
                \(bind: resource.name), \(bind: Self.projectID(of: resource)), \(bind: resource.status.rawValue),
                \(bind: resource.revision), \(bind: resource.createdAt), \(bind: resource.updatedAt),
                \(bind: resource.healthState), \(bind: spec))
            """
        ).run()
    }

    /// Writes back name, status, revision, updated_at, health and spec.
    static func update<S>(_ resource: Resource<S>, on db: any SQLDatabase) async throws {
        let spec = String(decoding: try self.encoder.encode(resource.spec), as: UTF8.self)
        try await db.raw(
            """
            UPDATE resources SET name = \(bind: resource.name), status = \(bind: resource.status.rawValue),
                revision = \(bind: resource.revision), updated_at = \(bind: resource.updatedAt),
                health_state = \(bind: resource.healthState), spec = \(bind: spec)
            WHERE id = \(bind: resource.id) AND kind = \(bind: S.kind.rawValue) AND domain_id = \(bind: resource.domainID)
            """
        ).run()
    }

    static func find<S: ResourceSpec>(_: S.Type, id: String, domainID: String, on db: any SQLDatabase) async throws -> Resource<S>? {
        let row = try await db.raw(
            "SELECT * FROM resources WHERE id = \(bind: id) AND kind = \(bind: S.kind.rawValue) AND domain_id = \(bind: domainID)"
        ).first()
        return try row.map(self.decode)
    }

    /// Resources of one kind under `parentID`, in id order.
    static func children<S: ResourceSpec>(_: S.Type, of parentID: String, on db: any SQLDatabase) async throws -> [Resource<S>] {
        try await db.raw(
            "SELECT * FROM resources WHERE parent_id = \(bind: parentID) AND kind = \(bind: S.kind.rawValue) ORDER BY id"
        ).all().map(self.decode)
    }

    /// Every resource of a kind, of all accounts, that is not being deleted, in id order.
    static func live<S: ResourceSpec>(_: S.Type, on db: any SQLDatabase) async throws -> [Resource<S>] {
        try await db.raw(
            "SELECT * FROM resources WHERE kind = \(bind: S.kind.rawValue) AND status <> 'DELETING' ORDER BY id"
        ).all().map(self.decode)
    }

    /// Every resource of a kind of one account, deleting ones included, in id order.
    static func all<S: ResourceSpec>(_: S.Type, domainID: String, on db: any SQLDatabase) async throws -> [Resource<S>] {
        try await db.raw(
            "SELECT * FROM resources WHERE kind = \(bind: S.kind.rawValue) AND domain_id = \(bind: domainID) ORDER BY id"
        ).all().map(self.decode)
    }

    static func count(_ kind: ResourceKind, domainID: String, parentID: String? = nil, on db: any SQLDatabase) async throws -> Int {
        var sql: SQLQueryString = "SELECT COUNT(*) AS n FROM resources WHERE kind = \(bind: kind.rawValue) AND domain_id = \(bind: domainID)"
        if let parentID { sql += " AND parent_id = \(bind: parentID)" }
        return try await db.raw(sql).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    static func list<S: ResourceSpec>(_: S.Type, domainID: String, query: ListQuery, on db: any SQLDatabase) async throws -> Page<S> {
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
        var items = try await db.raw(sql).all().map(self.decode) as [Resource<S>]
        var nextMarker: String?
        if items.count > query.limit {
            items.removeLast()
            nextMarker = items.last?.id
        }
        return Page(items: items, nextMarker: nextMarker)
    }

    static func setStatus(_ kind: ResourceKind, id: String, _ status: ResourceStatus, revision: Int64, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            UPDATE resources SET status = \(bind: status.rawValue), revision = \(bind: revision), updated_at = \(bind: Timestamp.now())
            WHERE id = \(bind: id) AND kind = \(bind: kind.rawValue)
            """
        ).run()
    }

    static func setHealthState(ofEndpointsIn groupID: String, to state: HealthState, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            UPDATE resources SET health_state = \(bind: state.rawValue)
            WHERE parent_id = \(bind: groupID) AND kind = \(bind: ResourceKind.endpoint.rawValue)
            """
        ).run()
    }

    /// Bumps and returns the configuration revision; every committed write carries a new one.
    static func nextRevision(on db: any SQLDatabase) async throws -> Int64 {
        try await db.raw("UPDATE revisions SET value = value + 1 WHERE name = 'config'").run()
        return try await self.currentRevision(on: db)
    }

    static func currentRevision(on db: any SQLDatabase) async throws -> Int64 {
        try await db.raw("SELECT value FROM revisions WHERE name = 'config'").first()?.decode(column: "value", as: Int64.self) ?? 0
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
            healthState: try row.decode(column: "health_state", as: String?.self),
            spec: try self.decoder.decode(S.self, from: Data(spec.utf8))
        )
    }

    private static func projectID<S>(of resource: Resource<S>) -> String? {
        (resource.spec as? AcceleratorSpec)?.enterpriseProjectID
    }
}
