import Logging
import ServiceLifecycle
import SlipstreamCore
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

/// Drives the PoP towards the stored configuration and records what it reports.
///
/// On every commit of this process, every health change the PoP sees, and at least once a second (so writes by
/// other processes and failed binds are retried): when the configuration revision moved, or the last apply
/// failed somewhere, it hands the PoP a fresh snapshot; then it settles the PoP's report into the store, which
/// moves resources to `ACTIVE` or `ERROR`, removes deleted ones and records endpoint health. Without a PoP a
/// committed revision counts as applied.
public struct Reconciler: Service {
    let controlPlane: ControlPlane
    let signal: ReconcilerSignal
    let pop: (any PoP)?
    let logger: Logger

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var iterator = self.signal.stream.makeAsyncIterator()
                var settled: PoPReport?
                repeat {
                    do {
                        settled = try await self.reconcile(after: settled)
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

    /// One round; returns the report it settled.
    func reconcile(after previous: PoPReport?) async throws -> PoPReport {
        let revision = try await self.controlPlane.currentRevision()
        let report: PoPReport
        if let pop {
            if previous == nil || previous!.appliedRevision != revision || !previous!.errors.isEmpty {
                report = await pop.apply(try await self.controlPlane.snapshot())
            } else {
                report = await pop.report()
            }
        } else {
            report = PoPReport(popID: "none", regionID: "", appliedRevision: revision, errors: [], health: [])
        }
        if report != previous {
            try await self.controlPlane.settle(report)
        }
        return report
    }
}
