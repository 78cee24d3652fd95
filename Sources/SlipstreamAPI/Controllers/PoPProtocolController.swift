import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import SlipstreamControlPlane
import SlipstreamModel
import Synchronization

/// The PoP protocol (`../shared/DESIGN.md`, "PoP protocol"): what remote PoPs call, with the bearer token of their
/// ``PoPCredential`` (`Authorization: Bearer slp-pop.…`) and nothing else; tenant credentials do not open it and
/// a PoP token opens no tenant route. Failures are GA-format errors (401 `APIGW.0301` for a bad token).
///
/// - `GET /pop/v1/snapshot?revision=R&wait=S[&delta=1&generation=G]`: the newest ``ConfigSnapshot`` when the
///   control plane's revision differs from `R` (the revision the PoP serves), at once; otherwise waits up to `S`
///   seconds (0-30, default 30) for one and answers 304 when none came (at once when the server is shutting down).
///   200 carries the snapshot as JSON, gzip-compressed when the PoP accepts it (`Accept-Encoding: gzip`), its
///   revision in `Slipstream-Revision` and this process's `Slipstream-Generation`. With `delta=1` and `generation`
///   naming this process, when the snapshot of `R` is still kept, it carries a ``ConfigDelta`` from `R` instead,
///   marked by `Slipstream-Base-Revision: R`; another delta format, or a `generation` naming another process (a
///   revision number alone may name other content here: a restored database numbers revisions again), gets the
///   whole snapshot. A burst of writes while a PoP applies is coalesced: it gets the newest revision, never each
///   one.
/// - `POST /pop/v1/report` with a ``PoPReport`` (JSON): records it as this PoP's latest report and heartbeat;
///   204. 401 when the PoP was deleted or its token replaced while the report was on its way; 403 when the report
///   names another PoP; 400 for a report format this server does not read or a negative applied revision; 413
///   past ``maximumReportBytes`` (64 MiB; the tenant body limit does not apply here), at once when
///   `Content-Length` says so.
struct PoPProtocolController {
    let controlPlane: ControlPlane
    let revisions: RevisionWatch
    let cache: EncodedSnapshots
    /// Wakes the reconciler so a report settles at once.
    let onReport: @Sendable () -> Void

    static let maximumWait = 30
    /// The protocol's routes (`APIRoutes` answers 405 for another method on them).
    static let routes: [(method: String, path: String)] = [("GET", "/pop/v1/snapshot"), ("POST", "/pop/v1/report")]
    /// Largest report body, bytes: about 70 bytes per endpoint health entry, so room for some 900,000 endpoints.
    /// The tenant body limit (`SLIPSTREAM_MAX_BODY_BYTES`) does not apply to the PoP protocol.
    static let maximumReportBytes = 64 << 20
    static let revisionHeader = HTTPField.Name("Slipstream-Revision")!
    static let baseRevisionHeader = HTTPField.Name("Slipstream-Base-Revision")!
    static let generationHeader = HTTPField.Name("Slipstream-Generation")!

    /// Whether an `Accept-Encoding` value (RFC 9110 §12.5.3) accepts gzip: a `gzip` (or `x-gzip`) coding whose
    /// weight is not 0, or `*` with a weight above 0 when gzip is not named.
    static func acceptsGzip(_ value: String?) -> Bool {
        guard let value else { return false }
        var wildcard = false
        for item in value.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first else { continue }
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if coding == "gzip" || coding == "x-gzip" { return weight > 0 }
            if coding == "*" { wildcard = weight > 0 }
        }
        return wildcard
    }

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.get("snapshot", use: self.snapshot)
        routes.post("report", use: self.report)
        return routes
    }

    /// Whether `path` is under `/pop/v1`, judged as the router sees it (empty segments dropped).
    static func isProtocolPath(_ path: String) -> Bool {
        path.split(separator: "/").starts(with: ["pop", "v1"])
    }

    func authenticate(_ request: Request) async throws -> StoredPoP {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw GAError.unauthorized("a PoP token is required (Authorization: Bearer)")
        }
        guard let pop = try await self.controlPlane.authenticatePoP(token: String(header.dropFirst("Bearer ".count))) else {
            throw GAError.unauthorized("invalid PoP token")
        }
        return pop
    }

    func snapshot(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        _ = try await self.authenticate(request)
        let query = request.uri.queryParameters
        let have = try query["revision"].map { value -> Int64 in
            guard let revision = Int64(value), revision >= 0 else { throw GAError.invalid("revision", "must be a revision number") }
            return revision
        }
        let wait =
            try query["wait"].map { value -> Int in
                guard let seconds = Int(value), (0...Self.maximumWait).contains(seconds) else {
                    throw GAError.invalid("wait", "must be 0-\(Self.maximumWait) seconds")
                }
                return seconds
            } ?? Self.maximumWait
        let deltaFormat = try query["delta"].map { value -> Int in
            guard let format = Int(value), format > 0 else { throw GAError.invalid("delta", "must be a delta format version") }
            return format
        }
        let generation = query["generation"].map(String.init)
        if let have {
            // The database's revision first, then the watch this process keeps current, until one differs.
            self.revisions.publish(try await self.controlPlane.currentRevision())
            if self.revisions.latest == have {
                // A server shutting down answers waiting PoPs at once instead of holding its shutdown for them.
                await cancelWhenGracefulShutdown { await self.revisions.wait(whileAt: have, timeout: .seconds(wait)) }
                if self.revisions.latest == have { return Response(status: .notModified) }
            }
        }
        let snapshot = try await self.cache.newest(self.controlPlane)
        let body = try self.cache.body(
            for: snapshot,
            have: have,
            delta: deltaFormat == ConfigDelta.formatVersion && generation == self.cache.generation,
            gzip: Self.acceptsGzip(request.headers[.acceptEncoding])
        )
        var headers: HTTPFields = [.contentType: "application/json", .vary: "Accept-Encoding"]
        headers[Self.revisionHeader] = String(body.revision)
        headers[Self.generationHeader] = self.cache.generation
        if let base = body.baseRevision { headers[Self.baseRevisionHeader] = String(base) }
        if body.gzip { headers[.contentEncoding] = "gzip" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body.bytes))
    }

    func report(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let pop = try await self.authenticate(request)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.maximumReportBytes {
            throw GAError.bodyTooLarge(limit: Self.maximumReportBytes)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumReportBytes)
        } catch is NIOTooManyBytesError {
            throw GAError.bodyTooLarge(limit: Self.maximumReportBytes)
        }
        let report: PoPReport
        do {
            report = try JSONDecoder().decode(PoPReport.self, from: Data(body.readableBytesView))
        } catch {
            throw GAError.invalid("report", "is not a PoP report: \(error)")
        }
        guard report.formatVersion == PoPReport.formatVersion else {
            throw GAError.invalid(
                "formatVersion",
                "report format \(report.formatVersion) is not supported (this server reads \(PoPReport.formatVersion))"
            )
        }
        guard report.popID == pop.id else {
            throw GAError(status: 403, code: "APIGW.0302", message: "this token belongs to PoP \(pop.id), not \(report.popID)")
        }
        try await self.controlPlane.recordRemote(report, pop: pop)
        self.onReport()
        return Response(status: .noContent)
    }
}

/// The newest snapshot built, as JSON and gzip, and the few before it for deltas: PoPs asking at the same revision
/// share one build, one encoding and one compression.
final class EncodedSnapshots: Sendable {
    /// Snapshots kept for deltas: a PoP more revisions behind than this gets the whole snapshot.
    static let kept = 16

    private struct Encoded: Sendable {
        var json: ByteBuffer
        var gzip: ByteBuffer?
    }

    /// One body's encodings: the snapshot of `revision`, or the delta to it from `base`.
    private struct Slot: Sendable {
        var base: Int64?
        var revision: Int64
        var encoded: Encoded
    }

    private struct State: Sendable {
        /// The newest snapshots built, oldest first.
        var recent: [ConfigSnapshot] = []
        /// The newest snapshot's encodings.
        var full: Slot?
        /// The last delta encoded.
        var delta: Slot?
    }

    private let state = Mutex(State())
    private static let encoder = JSONEncoder()
    /// Names the snapshots this process built (`Slipstream-Generation`). A delta is made only for a PoP whose
    /// snapshot came from this generation: a revision number alone does not prove the PoP's snapshot is the one
    /// kept here (a database restored from a backup numbers new revisions again), so a PoP that got its snapshot
    /// from another replica, an earlier run of this one or its state directory first gets a whole snapshot.
    let generation = UUID().uuidString.lowercased()

    /// What a snapshot call sends: a ``ConfigSnapshot`` or a ``ConfigDelta`` as JSON, or gzip of it.
    struct Body {
        var revision: Int64
        /// Set when the body is a delta from this revision.
        var baseRevision: Int64?
        var bytes: ByteBuffer
        var gzip: Bool
    }

    /// The newest snapshot: the cached one when the control plane has not moved past it.
    func newest(_ controlPlane: ControlPlane) async throws -> ConfigSnapshot {
        let current = try await controlPlane.currentRevision()
        if let cached = self.state.withLock({ $0.recent.last }), cached.revision >= current { return cached }
        let snapshot = try await controlPlane.snapshot()
        self.state.withLock { state in
            guard (state.recent.last?.revision ?? -1) < snapshot.revision else { return }
            state.recent.append(snapshot)
            if state.recent.count > Self.kept { state.recent.removeFirst(state.recent.count - Self.kept) }
        }
        return snapshot
    }

    /// `snapshot` for a PoP serving `have`: a delta when `delta` is asked for and the snapshot of `have` is still
    /// kept, the whole snapshot otherwise; gzip-compressed (RFC 1952) when `gzip`.
    func body(for snapshot: ConfigSnapshot, have: Int64?, delta: Bool, gzip: Bool) throws -> Body {
        if delta, let have, have != snapshot.revision, let base = self.state.withLock({ $0.recent.first { $0.revision == have } }) {
            let bytes = try self.encoded(\.delta, base: have, revision: snapshot.revision, gzip: gzip) {
                try Self.encoder.encode(ConfigDelta(from: base, to: snapshot))
            }
            return Body(revision: snapshot.revision, baseRevision: have, bytes: bytes, gzip: gzip)
        }
        let bytes = try self.encoded(\.full, base: nil, revision: snapshot.revision, gzip: gzip) { try Self.encoder.encode(snapshot) }
        return Body(revision: snapshot.revision, bytes: bytes, gzip: gzip)
    }

    /// The body kept in `slot` when it is the one from `base` to `revision`, else `encode()`d and kept there (unless
    /// a newer one took the slot meanwhile); compressed once, when first asked for with `gzip`.
    private func encoded(
        _ slot: WritableKeyPath<State, Slot?>,
        base: Int64?,
        revision: Int64,
        gzip: Bool,
        encode: () throws -> Data
    ) throws -> ByteBuffer {
        let kept = self.state.withLock { state in
            state[keyPath: slot].flatMap { $0.base == base && $0.revision == revision ? $0.encoded : nil }
        }
        var encoded = try kept ?? Encoded(json: ByteBuffer(bytes: encode()))
        if gzip, encoded.gzip == nil { encoded.gzip = try Self.compress(encoded.json) }
        let stored = encoded
        self.state.withLock { state in
            if (state[keyPath: slot]?.revision ?? -1) <= revision { state[keyPath: slot] = Slot(base: base, revision: revision, encoded: stored) }
        }
        return gzip ? stored.gzip ?? stored.json : stored.json
    }

    private static func compress(_ json: ByteBuffer) throws -> ByteBuffer {
        var input = json
        return try input.compress(with: .gzip())
    }
}
