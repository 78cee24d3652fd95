import ServiceLifecycle
import SlipstreamStore

/// Keeps the database open for the life of the service group and closes it on shutdown.
struct DatabaseService: Service {
    let database: any DatabaseDriver

    func run() async throws {
        try? await gracefulShutdown()
        // Close even when the group is cancelled rather than shut down gracefully: an unstructured task does not
        // inherit the cancellation.
        let database = self.database
        try await Task { try await database.close() }.value
    }
}
