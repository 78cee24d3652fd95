import Logging
import ServiceLifecycle
import SlipstreamStore

/// Wakes the reconciler; coalesces wake-ups that arrive while it is busy.
public final class ReconcilerSignal: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (self.stream, self.continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func wake() {
        self.continuation.yield()
    }
}

/// Moves resources from `PENDING` to `ACTIVE` and removes `DELETING` ones once their revision is applied.
///
/// Until the data plane reports applied revisions, a committed revision counts as applied. It wakes on every
/// commit of this process and at least once a second, so writes by other processes on the same database settle
/// too.
public struct Reconciler: Service {
    let controlPlane: ControlPlane
    let signal: ReconcilerSignal
    let logger: Logger

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var iterator = self.signal.stream.makeAsyncIterator()
                repeat {
                    do {
                        let applied = try await self.controlPlane.currentRevision()
                        try await self.controlPlane.settle(appliedRevision: applied)
                    } catch is CancellationError {
                        return
                    } catch {
                        self.logger.error("reconcile failed", metadata: ["error": "\(error)"])
                    }
                } while await iterator.next() != nil && !Task.isCancelled
            }
            group.addTask {
                while (try? await Task.sleep(for: .seconds(1))) != nil {
                    self.signal.wake()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
