import Logging
import ServiceLifecycle
import SlipstreamModel

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

/// When to retry applying a configuration that failed somewhere (a port taken, a listener over the socket budget):
/// after 1 s, doubling to at most 30 s, until it applies cleanly or a new revision resets it.
struct ApplyRetryBackoff: Sendable {
    static let first = Duration.seconds(1)
    static let maximum = Duration.seconds(30)

    private(set) var delay = Self.first
    private(set) var notBefore: ContinuousClock.Instant?

    /// Whether a retry may run at `now`.
    func allowsRetry(at now: ContinuousClock.Instant) -> Bool {
        self.notBefore.map { now >= $0 } ?? true
    }

    /// An apply failed at `now`: the next retry waits the current delay, and the delay doubles.
    mutating func failed(at now: ContinuousClock.Instant) {
        self.notBefore = now + self.delay
        self.delay = min(self.delay * 2, Self.maximum)
    }

    /// An apply succeeded, or a new revision arrived.
    mutating func reset() {
        self.delay = Self.first
        self.notBefore = nil
    }
}

/// Drives the PoP towards the stored configuration and records what it reports.
///
/// On every commit of this process, every health change the PoP sees, and at least once a second (so writes by
/// other processes are seen): when the configuration revision moved it hands the PoP a fresh snapshot; when the last
/// apply failed somewhere it retries with ``ApplyRetryBackoff``; then it settles the PoP's report into the store,
/// which moves resources to `ACTIVE` or `ERROR`, removes deleted ones and records endpoint health. Without a PoP a
/// committed revision counts as applied.
public struct Reconciler: Service {
    let controlPlane: ControlPlane
    let signal: ReconcilerSignal
    let pop: (any PoP)?
    let logger: Logger

    /// A reconciler of `controlPlane` that drives `pop` (nil: a committed revision counts as applied) whenever
    /// `signal` wakes it.
    public init(controlPlane: ControlPlane, signal: ReconcilerSignal, pop: (any PoP)?, logger: Logger) {
        self.controlPlane = controlPlane
        self.signal = signal
        self.pop = pop
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var iterator = self.signal.stream.makeAsyncIterator()
                var settled: PoPReport?
                var backoff = ApplyRetryBackoff()
                repeat {
                    do {
                        settled = try await self.reconcile(after: settled, backoff: &backoff)
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
    func reconcile(after previous: PoPReport?, backoff: inout ApplyRetryBackoff) async throws -> PoPReport {
        let revision = try await self.controlPlane.currentRevision()
        let report: PoPReport
        if let pop {
            let now = ContinuousClock.now
            let newRevision = previous == nil || previous!.appliedRevision != revision
            if newRevision || (!previous!.errors.isEmpty && backoff.allowsRetry(at: now)) {
                if newRevision { backoff.reset() }
                report = await pop.apply(try await self.controlPlane.snapshot())
                if report.errors.isEmpty { backoff.reset() } else { backoff.failed(at: now) }
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
