import Logging
import ServiceLifecycle
import SlipstreamModel
import Synchronization

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

/// The newest configuration revision this process knows of, for long polls of remote PoPs to wait on without
/// asking the database: set on every commit of this process and on every reconciler round (so within about a
/// second of a commit by another replica). A waiter is resumed by the publish that moves the revision, not by
/// polling.
public final class RevisionWatch: Sendable {
    private struct State {
        var revision: Int64 = 0
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var latest: Int64 { self.state.withLock { $0.revision } }

    /// Waiters parked now.
    var waiting: Int { self.state.withLock { $0.waiters.count } }

    /// Raises the known revision to `revision` (never lowers it) and wakes every waiter when it moved.
    public func publish(_ revision: Int64) {
        let woken = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard revision > state.revision else { return [] }
            state.revision = revision
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns when the known revision differs from `revision`, after `timeout`, or when the task is cancelled,
    /// whichever comes first; read ``latest`` to tell which.
    public func wait(whileAt revision: Int64, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.moved(from: revision) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func moved(from revision: Int64) async {
        let id = self.state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = self.state.withLock { state -> Bool in
                    if state.revision != revision || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            self.state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Drives the embedded PoP (if any) towards the stored configuration and settles what every live PoP reports.
///
/// On every commit of this process, every health change the embedded PoP sees, every report of a remote PoP
/// taken by this process, and at least once a second (so writes and reports taken by other replicas are seen):
/// when the configuration revision moved it hands the embedded PoP a fresh snapshot; when its last apply failed
/// somewhere it retries with ``ApplyRetryBackoff``; it records the embedded PoP's report like a remote PoP's (at
/// least every ``heartbeat``). Then it settles the live PoPs' ``FleetReport`` into the store, which moves
/// resources to `ACTIVE` or `ERROR`, removes deleted ones and records endpoint health. With no live PoP a
/// committed revision counts as applied.
public struct Reconciler: Service {
    /// How often the embedded PoP's unchanged report is recorded again, as a heartbeat.
    static let heartbeat = Duration.seconds(5)

    let controlPlane: ControlPlane
    let signal: ReconcilerSignal
    let pop: (any PoP)?
    let revisions: RevisionWatch
    let logger: Logger

    /// A reconciler of `controlPlane` that drives `pop` (nil: no embedded PoP) whenever `signal` wakes it, and
    /// tells `revisions` the revision it sees.
    public init(controlPlane: ControlPlane, signal: ReconcilerSignal, pop: (any PoP)?, revisions: RevisionWatch = RevisionWatch(), logger: Logger) {
        self.controlPlane = controlPlane
        self.signal = signal
        self.pop = pop
        self.revisions = revisions
        self.logger = logger
    }

    /// What one round leaves for the next.
    struct Round: Sendable {
        /// The embedded PoP's last report, and when it was recorded.
        var report: PoPReport?
        var recordedAt: ContinuousClock.Instant?
        /// The fleet report last settled.
        var settled: FleetReport?
        var backoff = ApplyRetryBackoff()
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var iterator = self.signal.stream.makeAsyncIterator()
                var round = Round()
                repeat {
                    do {
                        try await self.reconcile(&round)
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

    /// One round.
    func reconcile(_ round: inout Round) async throws {
        let revision = try await self.controlPlane.currentRevision()
        self.revisions.publish(revision)
        if let pop {
            let now = ContinuousClock.now
            let report: PoPReport
            let newRevision = round.report.map { $0.appliedRevision != revision } ?? true
            if newRevision || (!round.report!.errors.isEmpty && round.backoff.allowsRetry(at: now)) {
                if newRevision { round.backoff.reset() }
                report = await pop.apply(try await self.controlPlane.snapshot())
                if report.errors.isEmpty { round.backoff.reset() } else { round.backoff.failed(at: now) }
            } else {
                report = await pop.report()
            }
            if report != round.report || round.recordedAt.map({ now - $0 >= Self.heartbeat }) ?? true {
                try await self.controlPlane.record(report, popID: report.popID, regionID: report.regionID)
                round.recordedAt = now
            }
            round.report = report
        }
        let fleet = try await self.controlPlane.fleetReport(committed: revision)
        if fleet != round.settled {
            try await self.controlPlane.settle(fleet, previous: round.settled)
            round.settled = fleet
        }
    }
}
