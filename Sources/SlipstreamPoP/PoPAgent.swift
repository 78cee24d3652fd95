import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SlipstreamDataPlane
import SlipstreamModel
import Synchronization

/// Settings of a remote PoP process (`slipstream pop`).
public struct PoPAgentConfiguration: Sendable {
    /// Base URLs of control-plane replicas (`http://host:port`); a failed call moves on to the next one.
    public var controlPlanes: [String]
    public var credential: PoPCredential
    /// Where the last applied snapshot (``SnapshotFile``) and the access logs are kept.
    public var stateDirectory: String
    /// Longest a snapshot pull waits on the control plane for a new revision, s (at most 30).
    public var pollWaitSeconds = 30
    /// A report goes out after every apply and health change, and at least this often as a heartbeat. Keep it
    /// well under the control plane's stale timeout (15 s by default).
    public var heartbeatInterval = Duration.seconds(5)
    /// Back-off between failed calls: a random delay up to a ceiling that doubles from `retryFirst` to
    /// `retryMaximum` ("full jitter", AWS Architecture Blog, "Exponential Backoff And Jitter").
    public var retryFirst = Duration.milliseconds(250)
    public var retryMaximum = Duration.seconds(10)

    public init(controlPlanes: [String], credential: PoPCredential, stateDirectory: String) {
        self.controlPlanes = controlPlanes
        self.credential = credential
        self.stateDirectory = stateDirectory
    }
}

/// A remote PoP: the data plane of ``EmbeddedPoP`` driven over the PoP protocol instead of in-process.
///
/// At start it applies the snapshot saved in its state directory, if any, before it has reached a control plane
/// (static stability). It then long-polls the control planes for newer revisions, applies each, saves it and
/// reports; it reports on every health change and as a heartbeat. With every control plane away it keeps
/// forwarding and health-checking on the last snapshot and routes by its own health view, retrying over all
/// control-plane URLs with jittered back-off; when one answers it catches up to the newest revision at once, and
/// applying it keeps open flows of listeners that stay. A snapshot of a format it does not read is refused: it
/// keeps serving what it has and says why in its reports (`refusal`).
public final class PoPAgent: Service {
    public let configuration: PoPAgentConfiguration
    public let pop: EmbeddedPoP
    let file: SnapshotFile
    let saver: SnapshotSaver
    let wakeup = Wakeup()
    let refusal = Mutex<String?>(nil)
    let logger: Logger

    public init(configuration: PoPAgentConfiguration, pop popConfiguration: PoPConfiguration, metrics: MetricsRegistry, logger: Logger) throws {
        var popConfiguration = popConfiguration
        popConfiguration.popID = configuration.credential.popID
        popConfiguration.regionID = configuration.credential.regionID
        let accessLog = AccessLogWriter(directory: configuration.stateDirectory + "/logs", logger: logger)
        let wakeup = self.wakeup
        self.configuration = configuration
        self.pop = try EmbeddedPoP(configuration: popConfiguration, metrics: metrics, accessLog: accessLog, logger: logger) { wakeup.wake() }
        self.file = SnapshotFile(directory: configuration.stateDirectory)
        self.saver = SnapshotSaver(file: self.file, logger: logger)
        self.logger = logger
    }

    public func run() async throws {
        let http = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: .init(
                timeout: .init(connect: .seconds(2)),
                // No retries inside the client: a refused connect fails the call at once and the agent's own
                // jittered back-off and URL failover take over. The client's retry back-off grows with every
                // failure of a long outage (to 60 s) and held the first call after it that long.
                connectionPool: {
                    var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(20))
                    pool.retryConnectionEstablishment = false
                    return pool
                }(),
                decompression: .enabled(limit: .size(ControlPlaneClient.maximumSnapshotBytes))
            ),
            backgroundActivityLogger: self.logger
        )
        let client = ControlPlaneClient(http: http, token: self.configuration.credential.token)
        let saved = await self.applySaved()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.pullLoop(client, saved: saved) }
            group.addTask { await self.reportLoop(client) }
            group.addTask { await self.saver.run() }
            group.addTask {
                while (try? await Task.sleep(for: self.configuration.heartbeatInterval)) != nil { self.wakeup.wake() }
            }
            if let accessLog = self.pop.accessLog { group.addTask { await accessLog.run() } }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // What was applied last is on disk before the process ends, whatever the saver was doing.
        self.saver.flush()
        await self.pop.shutdown()
        try? await http.shutdown()
    }

    /// Applies the saved snapshot, if there is one this PoP reads.
    func applySaved() async -> ConfigSnapshot? {
        do {
            guard let json = try self.file.load() else {
                self.logger.info("no saved snapshot; waiting for a control plane", metadata: ["path": "\(self.file.path)"])
                return nil
            }
            let probe = try JSONDecoder().decode(FormatProbe.self, from: json)
            guard probe.formatVersion == ConfigSnapshot.formatVersion else {
                self.logger.error(
                    "the saved snapshot is of a format this PoP does not read; waiting for a control plane",
                    metadata: ["path": "\(self.file.path)", "format": "\(probe.formatVersion)", "reads": "\(ConfigSnapshot.formatVersion)"]
                )
                return nil
            }
            let snapshot = try JSONDecoder().decode(ConfigSnapshot.self, from: json)
            let report = await self.pop.apply(snapshot)
            self.logger.notice("serving the saved snapshot", metadata: ["revision": "\(snapshot.revision)", "errors": "\(report.errors.count)"])
            return snapshot
        } catch {
            self.logger.error("cannot read the saved snapshot", metadata: ["path": "\(self.file.path)", "error": "\(error)"])
            return nil
        }
    }

    /// The version fields of a snapshot, readable whatever its format.
    struct FormatProbe: Decodable {
        var formatVersion: Int
        var revision: Int64?
    }

    func pullLoop(_ client: ControlPlaneClient, saved: ConfigSnapshot?) async {
        let urls = self.configuration.controlPlanes
        var index = 0
        var have = saved?.revision
        var current = saved
        // The control-plane process the served snapshot came from; deltas are asked for only with it.
        var generation: String?
        var backoff = JitteredBackoff(first: self.configuration.retryFirst, maximum: self.configuration.retryMaximum)
        // A snapshot that failed to apply somewhere (a port taken) is applied again after 1 s, doubling to 30 s.
        var applyRetry: Duration?
        while !Task.isCancelled {
            let base = urls[index]
            let wait = applyRetry.map { Int(min($0, .seconds(self.configuration.pollWaitSeconds)).components.seconds) }
            do {
                // With nothing to serve yet the PoP asks without waiting, so a URL that never answers holds it for
                // the call timeout only (10 s), not that plus the long poll (40 s).
                // Deltas only from the snapshot served (after a refused format `have` is past it), and only from the
                // control-plane process that sent it (`generation`; a restored database numbers revisions again).
                // Without it (a saved snapshot, a failed call, another replica) a changed revision comes whole.
                let pulled = try await client.pull(
                    base,
                    have: have,
                    wait: have == nil ? 0 : wait ?? self.configuration.pollWaitSeconds,
                    generation: current != nil && current?.revision == have ? generation : nil
                )
                if backoff.failures > 0 { self.logger.notice("control plane reached", metadata: ["url": "\(base)"]) }
                backoff.reset()
                let snapshot: ConfigSnapshot
                let json: Data?
                var isDelta = false
                switch pulled {
                case .unchanged:
                    guard let snapshot = current, let delay = applyRetry else { continue }
                    let report = await self.pop.apply(snapshot)
                    applyRetry = report.errors.isEmpty ? nil : min(delay * 2, .seconds(30))
                    self.wakeup.wake()
                    continue
                case .snapshot(let body, let from):
                    generation = from
                    let probe = try JSONDecoder().decode(FormatProbe.self, from: body)
                    guard probe.formatVersion == ConfigSnapshot.formatVersion else {
                        let reason =
                            "snapshot format \(probe.formatVersion) of revision \(probe.revision.map(String.init) ?? "?") is not supported (this PoP reads format \(ConfigSnapshot.formatVersion))"
                        self.logger.error("refused a snapshot", metadata: ["reason": "\(reason)"])
                        self.refusal.withLock { $0 = reason }
                        have = probe.revision ?? have
                        self.wakeup.wake()
                        continue
                    }
                    snapshot = try JSONDecoder().decode(ConfigSnapshot.self, from: body)
                    json = body
                case .delta(let body, let from):
                    generation = from
                    let delta = try JSONDecoder().decode(ConfigDelta.self, from: body)
                    guard let served = current else { throw ControlPlaneClient.Failure(description: "a delta with no snapshot to apply it to") }
                    snapshot = try delta.applied(to: served)
                    json = nil
                    isDelta = true
                }
                self.refusal.withLock { $0 = nil }
                let report = await self.pop.apply(snapshot)
                have = snapshot.revision
                current = snapshot
                applyRetry = report.errors.isEmpty ? nil : .seconds(1)
                // Report first; the snapshot is saved by its own task, the newest of a burst once.
                self.wakeup.wake()
                self.saver.save(snapshot, json: json)
                self.logger.info(
                    "applied",
                    metadata: ["revision": "\(snapshot.revision)", "delta": "\(isDelta)", "errors": "\(report.errors.count)"]
                )
            } catch {
                if Task.isCancelled { return }
                // Whatever failed (a delta that did not fit among them), the next answer is a whole snapshot.
                generation = nil
                index = (index + 1) % urls.count
                let delay = backoff.next()
                self.logger.warning(
                    "control plane call failed",
                    metadata: ["url": "\(base)", "error": "\(error)", "next_url": "\(urls[index])", "retry_in_ms": "\(delay.milliseconds)"]
                )
                try? await Task.sleep(for: delay)
            }
        }
    }

    func reportLoop(_ client: ControlPlaneClient) async {
        let urls = self.configuration.controlPlanes
        var index = 0
        var iterator = self.wakeup.stream.makeAsyncIterator()
        // The failures of the last report that reached no control plane: logged as a warning when they change
        // (a control plane refusing reports leaves this PoP stale while it forwards), at debug level while they repeat.
        var lastFailures: [String] = []
        while await iterator.next() != nil, !Task.isCancelled {
            var report = await self.pop.report()
            report.refusal = self.refusal.withLock { $0 }
            var failures: [String] = []
            var details: [String] = []
            for attempt in 0..<urls.count {
                let candidate = (index + attempt) % urls.count
                do {
                    try await client.post(report, to: urls[candidate])
                    index = candidate
                    failures = []
                    break
                } catch {
                    if Task.isCancelled { return }
                    failures.append((error as? ControlPlaneClient.Failure)?.kind ?? "\(error)")
                    details.append("\(error)")
                }
            }
            if failures.isEmpty, !lastFailures.isEmpty {
                self.logger.notice("report delivered", metadata: ["revision": "\(report.appliedRevision)"])
            } else if !failures.isEmpty {
                let level: Logger.Level = failures == lastFailures ? .debug : .warning
                self.logger.log(level: level, "report reached no control plane", metadata: ["errors": "\(details)"])
            }
            lastFailures = failures
        }
    }
}

/// Saves applied snapshots to the state directory off the pull loop, so a save (encoding and fsync, both growing
/// with the configuration) delays neither the report nor the next pull. A burst of applies is saved once, the
/// newest; ``flush()`` saves what is pending before the process ends. A crash between an apply and its save
/// restarts the PoP on the snapshot before it, which the control plane then brings up to date.
final class SnapshotSaver: Sendable {
    private struct Pending: Sendable {
        var snapshot: ConfigSnapshot
        /// The snapshot's JSON as received, when it came whole (saved as is, not encoded again).
        var json: Data?
    }

    let file: SnapshotFile
    let logger: Logger
    private let pending = Mutex<Pending?>(nil)
    private let wakeup = Wakeup(initially: false)
    /// Held while a save writes, so a flush cannot interleave with the task's save.
    private let writing = Mutex(())

    init(file: SnapshotFile, logger: Logger) {
        self.file = file
        self.logger = logger
    }

    func save(_ snapshot: ConfigSnapshot, json: Data?) {
        self.pending.withLock { $0 = Pending(snapshot: snapshot, json: json) }
        self.wakeup.wake()
    }

    func run() async {
        for await _ in self.wakeup.stream {
            self.flush()
        }
    }

    /// Saves the pending snapshot, if any, now.
    func flush() {
        self.writing.withLock { _ in
            let taken = self.pending.withLock { pending in
                defer { pending = nil }
                return pending
            }
            guard let next = taken else { return }
            do {
                try self.file.save(next.json ?? JSONEncoder().encode(next.snapshot))
            } catch {
                self.logger.error("cannot save the snapshot", metadata: ["path": "\(self.file.path)", "error": "\(error)"])
            }
        }
    }
}

/// Wakes a loop; wake-ups that arrive while it is busy coalesce into one.
final class Wakeup: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    /// `initially`: whether the first wait returns at once.
    init(initially: Bool = true) {
        (self.stream, self.continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        if initially { self.continuation.yield() }
    }

    func wake() {
        self.continuation.yield()
    }
}

/// Exponential back-off with full jitter: the n-th consecutive failure waits a random time up to
/// `min(maximum, first × 2ⁿ)`.
struct JitteredBackoff: Sendable {
    let first: Duration
    let maximum: Duration
    private(set) var failures = 0

    init(first: Duration, maximum: Duration) {
        self.first = first
        self.maximum = maximum
    }

    mutating func next() -> Duration {
        let ceiling = min(self.maximum, self.first * (1 << min(self.failures, 20)))
        self.failures += 1
        let milliseconds = max(ceiling.milliseconds, 1)
        return .milliseconds(Int64.random(in: 0...milliseconds))
    }

    mutating func reset() {
        self.failures = 0
    }
}

extension Duration {
    var milliseconds: Int64 {
        self.components.seconds * 1000 + self.components.attoseconds / 1_000_000_000_000_000
    }
}
