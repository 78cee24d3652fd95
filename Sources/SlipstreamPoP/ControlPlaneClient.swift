import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SlipstreamModel

/// The PoP side of the PoP protocol (`PoPProtocolController` on the control plane) over HTTP, against one
/// control-plane URL at a time.
struct ControlPlaneClient: Sendable {
    let http: HTTPClient
    let token: String
    /// Largest snapshot accepted, after decompression.
    static let maximumSnapshotBytes = 256 << 20

    enum Pull: Sendable {
        /// No revision other than the one the PoP has arrived within the wait.
        case unchanged
        /// The newest snapshot's JSON, and the generation of the control-plane process that built it.
        case snapshot(Data, generation: String?)
        /// A ``ConfigDelta``'s JSON, from the revision the PoP has to the newest.
        case delta(Data, generation: String?)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// What tells one failure from another, without the parts that change on every call (a request id):
        /// the call and the HTTP status.
        var kind: String?
    }

    /// Long-polls `base` for a snapshot whose revision differs from `have` (any snapshot when nil), waiting up to
    /// `wait` seconds on the server; the call fails 10 s after that without an answer.
    /// With `generation` (the `Slipstream-Generation` the snapshot of `have` came with), the control plane may
    /// answer with a ``ConfigDelta`` from `have` instead of the whole snapshot.
    func pull(_ base: String, have: Int64?, wait: Int, generation: String?) async throws -> Pull {
        var url = "\(base)/pop/v1/snapshot?wait=\(wait)"
        if let have { url += "&revision=\(have)" }
        if let generation, let escaped = generation.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            url += "&delta=\(ConfigDelta.formatVersion)&generation=\(escaped)"
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(self.token)")
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        let response = try await self.http.execute(request, timeout: .seconds(Int64(wait) + 10))
        switch response.status {
        case .notModified:
            return .unchanged
        case .ok:
            let body = try await response.body.collect(upTo: Self.maximumSnapshotBytes)
            let generation = response.headers.first(name: "Slipstream-Generation")
            let isDelta = response.headers.first(name: "Slipstream-Base-Revision") != nil
            return isDelta
                ? .delta(Data(body.readableBytesView), generation: generation)
                : .snapshot(Data(body.readableBytesView), generation: generation)
        default:
            let body = try? await response.body.collect(upTo: 64 << 10)
            throw Failure(description: "GET \(base)/pop/v1/snapshot: \(response.status.code) \(body.map { String(buffer: $0) } ?? "")")
        }
    }

    /// Posts `report` to `base`.
    func post(_ report: PoPReport, to base: String) async throws {
        var request = HTTPClientRequest(url: "\(base)/pop/v1/report")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(self.token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(report)))
        let response = try await self.http.execute(request, timeout: .seconds(10))
        guard response.status == .noContent else {
            let body = try? await response.body.collect(upTo: 64 << 10)
            throw Failure(
                description: "POST \(base)/pop/v1/report: \(response.status.code) \(body.map { String(buffer: $0) } ?? "")",
                kind: "POST \(base)/pop/v1/report: \(response.status.code)"
            )
        }
    }
}
