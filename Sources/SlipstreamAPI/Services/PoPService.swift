import ServiceLifecycle
import SlipstreamDataPlane
import SlipstreamModel

/// Runs the embedded PoP for the life of the service group, with its access-log writer; on shutdown it stops
/// accepting, lets open flows drain (bounded by the drain timeout), closes the rest and writes the last records.
struct PoPService: Service {
    let pop: EmbeddedPoP

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            if let accessLog = self.pop.accessLog {
                group.addTask { await accessLog.run() }
            }
            try? await gracefulShutdown()
            await self.pop.shutdown()
            group.cancelAll()
        }
    }
}
