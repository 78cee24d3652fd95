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
/// - `GET /pop/v1/snapshot?revision=R&wait=S`: the newest ``ConfigSnapshot`` when the control plane's revision
///   differs from `R` (the revision the PoP serves), at once; otherwise waits up to `S` seconds (0-30, default 30)
///   for one and answers 304 when none came (at once when the server is shutting down). 200 carries the snapshot as JSON, gzip-compressed when the PoP
///   accepts it (`Accept-Encoding: gzip`), and its revision in `Slipstream-Revision`. A burst of writes while a
///   PoP applies is coalesced: it gets the newest revision, never each one.
/// - `POST /pop/v1/report` with a ``PoPReport`` (JSON): records it as this PoP's latest report and heartbeat;
///   204. 403 when the report names another PoP; 400 for a report format this server does not read; 413 past
///   ``maximumReportBytes`` (64 MiB; the tenant body limit does not apply here).
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
        if let have {
            // The database's revision first, then the watch this process keeps current, until one differs.
            self.revisions.publish(try await self.controlPlane.currentRevision())
            if self.revisions.latest == have {
                // A server shutting down answers waiting PoPs at once instead of holding its shutdown for them.
                await cancelWhenGracefulShutdown { await self.revisions.wait(whileAt: have, timeout: .seconds(wait)) }
                if self.revisions.latest == have { return Response(status: .notModified) }
            }
        }
        let (revision, json) = try await self.cache.newest(self.controlPlane)
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[Self.revisionHeader] = String(revision)
        var body = json
        if request.headers[.acceptEncoding]?.contains("gzip") == true {
            body = try self.cache.gzip(revision: revision, json: json)
            headers[.contentEncoding] = "gzip"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    func report(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let pop = try await self.authenticate(request)
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
        var recorded = report
        recorded.regionID = pop.regionID
        try await self.controlPlane.record(recorded, popID: pop.id, regionID: pop.regionID)
        self.onReport()
        return Response(status: .noContent)
    }
}

/// The last snapshot built, as JSON and gzip, so PoPs asking for the same revision share one build.
final class EncodedSnapshots: Sendable {
    private struct Entry: Sendable {
        var revision: Int64
        var json: ByteBuffer
        var gzip: ByteBuffer?
    }

    private let entry = Mutex<Entry?>(nil)
    private static let encoder = JSONEncoder()

    /// The newest snapshot's revision and JSON: the cached one when the control plane has not moved past it.
    func newest(_ controlPlane: ControlPlane) async throws -> (Int64, ByteBuffer) {
        let current = try await controlPlane.currentRevision()
        if let cached = self.entry.withLock({ $0 }), cached.revision >= current { return (cached.revision, cached.json) }
        let snapshot = try await controlPlane.snapshot()
        let json = ByteBuffer(bytes: try Self.encoder.encode(snapshot))
        self.entry.withLock { entry in
            if (entry?.revision ?? -1) < snapshot.revision { entry = Entry(revision: snapshot.revision, json: json) }
        }
        return (snapshot.revision, json)
    }

    /// `json` of `revision` gzip-compressed (RFC 1952), compressed once per revision.
    func gzip(revision: Int64, json: ByteBuffer) throws -> ByteBuffer {
        if let cached = self.entry.withLock({ $0 }), cached.revision == revision, let gzip = cached.gzip { return gzip }
        var input = json
        let compressed = try input.compress(with: .gzip())
        self.entry.withLock { entry in
            if entry?.revision == revision { entry?.gzip = compressed }
        }
        return compressed
    }
}
