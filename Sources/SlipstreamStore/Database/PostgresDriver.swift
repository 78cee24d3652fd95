import Foundation
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import SlipstreamModel

/// The shared store of several control-plane replicas: a PostgreSQL database reached through postgres-nio's
/// connection pool, with the same schema and statements as the SQLite store.
///
/// Every write runs in one transaction that starts by bumping the configuration revision (``SQLTransaction``), so the
/// revision row's lock orders the writes of every replica: revisions grow by one per committed write across
/// replicas, and a write sees every write committed before it. Reads run `REPEATABLE READ READ ONLY`, one
/// consistent view. Migrations take a transaction-scoped advisory lock, so replicas starting together apply each
/// version once.
public final class PostgresDriver: DatabaseDriver {
    private let client: PostgresClient
    private let runner: Task<Void, Never>

    private init(client: PostgresClient, runner: Task<Void, Never>) {
        self.client = client
        self.runner = runner
    }

    /// Connects to the database `url` names (`postgres://user:password@host:port/database`, optional
    /// `?sslmode=disable|prefer|require`, default `prefer`) and brings its schema up to date.
    ///
    /// - Throws: ``ConfigurationError`` for a URL that is not a PostgreSQL URL; the server's error when it cannot be
    ///   reached or refuses the credentials.
    public static func open(url: String, logger: Logger) async throws -> PostgresDriver {
        let client = PostgresClient(configuration: try Self.configuration(url), backgroundLogger: logger)
        let runner = Task { await client.run() }
        let driver = PostgresDriver(client: client, runner: runner)
        do {
            try await Migrations.run(on: driver)
        } catch {
            runner.cancel()
            // PostgresNIO's errors describe themselves only when reflected; this one goes to the operator at start.
            throw ConfigurationError("cannot open the database: \(String(reflecting: error))")
        }
        return driver
    }

    /// The pool configuration of a `postgres://` URL.
    static func configuration(_ url: String) throws(ConfigurationError) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else {
            throw ConfigurationError("the database URL must look like postgres://user[:password]@host[:port]/database")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let tls: PostgresClient.Configuration.TLS
        switch components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        case let other: throw ConfigurationError("sslmode \(other) is not one of disable, prefer, require")
        }
        return PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: components.password?.removingPercentEncoding,
            database: database.isEmpty ? nil : database,
            tls: tls
        )
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.transaction(begin: "BEGIN", body)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await self.transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    public var migrationLock: SQLQueryString? { "SELECT pg_advisory_xact_lock(7301731)" }

    private func transaction<T: Sendable>(
        begin: SQLQueryString,
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await self.client.withConnection { connection in
            let db = connection.sql(queryLogLevel: nil)
            try await db.raw(begin).run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    public func close() async throws {
        self.runner.cancel()
        await self.runner.value
    }
}
