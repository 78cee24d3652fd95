import ServiceLifecycle
import SlipstreamControlPlane
import SlipstreamModel

/// Keeps the database open for the life of the service group and closes it on shutdown.
struct DatabaseService: Service {
    let store: any ControlPlaneStore

    func run() async throws {
        try? await gracefulShutdown()
        // Close even when the group is cancelled rather than shut down gracefully: an unstructured task does not
        // inherit the cancellation.
        let store = self.store
        try await Task { try await store.close() }.value
    }
}
