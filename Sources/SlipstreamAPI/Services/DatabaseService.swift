import ServiceLifecycle
import SlipstreamStore

/// Keeps the database open for the life of the service group and closes it on shutdown.
struct DatabaseService: Service {
    let database: any DatabaseDriver

    func run() async throws {
        try? await gracefulShutdown()
        try await self.database.close()
    }
}
