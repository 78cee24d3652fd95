import ServiceLifecycle
import SlipstreamDataPlane

/// Runs the embedded PoP for the life of the service group; on shutdown it stops accepting, lets open flows
/// drain (bounded by the drain timeout) and closes the rest.
struct PoPService: Service {
    let pop: EmbeddedPoP

    func run() async throws {
        try? await gracefulShutdown()
        await self.pop.shutdown()
    }
}
