import Foundation
import Logging
import PostgresNIO
import Testing

@testable import SlipstreamStore

/// PostgreSQL for the tests, on the server `SLIPSTREAM_TEST_DATABASE_URL` names (a URL to a database the tests may
/// create and drop databases from, e.g. `postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable`). `.ci/run`
/// starts a throwaway cluster and sets it; without it the PostgreSQL cases are not run.
enum TestPostgres {
    static var url: String? {
        ProcessInfo.processInfo.environment["SLIPSTREAM_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Creates an empty database, runs `body` with its URL, and drops the database afterwards.
    static func withDatabase(_ body: (String) async throws -> Void) async throws {
        guard let adminURL = self.url, var components = URLComponents(string: adminURL) else {
            Issue.record("SLIPSTREAM_TEST_DATABASE_URL is not set")
            return
        }
        let name = "slipstream_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await self.administer(adminURL, "CREATE DATABASE \(name)")
        components.path = "/" + name
        do {
            try await body(components.string!)
        } catch {
            try? await self.administer(adminURL, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
        try await self.administer(adminURL, "DROP DATABASE \(name) WITH (FORCE)")
    }

    /// Runs one statement outside a transaction (`CREATE DATABASE` cannot run in one).
    private static func administer(_ url: String, _ statement: String) async throws {
        let client = PostgresClient(configuration: try PostgresDriver.configuration(url), backgroundLogger: Logger(label: "test-postgres"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: statement))
        }
    }
}
