import Crypto
import Foundation
import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// Read-only views of the deployment: quotas, PoPs and BYOIP pools.
struct AccountResourceController {
    let controlPlane: ControlPlane
    /// The deployment the PoP and BYOIP views describe.
    let configuration: SlipstreamConfiguration
    /// When the server started; the creation time of operator-configured pools.
    let started = Timestamp.now()

    var endpoints: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        // The router allows one capture name per position; `/v1/{resource_type}/…` of the tag routes shares this one.
        routes.get(":scope/ga/quotas", use: self.quotas)
        routes.get("pops", use: self.pops)
        routes.get("byoip-pools", use: self.byoipPools)
        return routes
    }

    struct QuotaList: Encodable {
        var resources: [QuotaUsage]
    }

    func quotas(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = context.caller
        let domainID = try RequestParsing.id("scope", named: "domain_id", context: context)
        // Another account's quotas do not exist for this caller.
        guard domainID == caller.domainID else { throw GAError(status: 404, code: "GA.9002", message: "Not found: domain \(domainID)") }
        let quotas = try await self.controlPlane.quotas(domainID: caller.domainID)
        return try JSONResponse.make(.ok, ["quotas": QuotaList(resources: quotas)], context: context)
    }

    /// A PoP as `GET /v1/pops` shows it: the GA reference's `id`, and what this deployment knows of it.
    struct PoPDetail: Encodable {
        var id: String
        var regionID: String
        /// `ACTIVE` while its reports arrive; `ERROR` once they stop (stale: it holds no resource back).
        var status: String
        /// The configuration revision it serves; nil before its first report.
        var appliedRevision: Int64?
        /// When its last report arrived.
        var lastSeenAt: String?
        /// Its apply errors about the caller's resources (what makes them `ERROR`).
        var errors: [PoPReport.ApplyError]
        /// Why it refused the newest snapshot (a format it does not read), if it did.
        var refusal: String?
        /// The address blocks accelerators served by this PoP get their addresses from.
        var addresses: [String]
    }

    func pops(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let configuration = self.configuration
        let blocks = configuration.pools.keys.sorted().flatMap { configuration.pools[$0]! }.map(\.description)
        var pops: [PoPDetail] = []
        for state in try await self.controlPlane.pops() {
            let report = state.pop.report
            pops.append(
                PoPDetail(
                    id: state.pop.id,
                    regionID: state.pop.regionID,
                    status: state.isLive ? "ACTIVE" : "ERROR",
                    appliedRevision: report?.appliedRevision,
                    lastSeenAt: state.pop.lastSeenMilliseconds.map { Timestamp.string(Date(timeIntervalSince1970: Double($0) / 1000)) },
                    errors: try await self.controlPlane.applyErrors(report?.errors ?? [], visibleTo: context.caller.domainID),
                    refusal: report?.refusal,
                    addresses: blocks
                )
            )
        }
        return try self.page("pops", pops, id: \.id, request: request, context: context)
    }

    struct BYOIPPoolDetail: Encodable {
        var id: String
        var cidr: String
        var ipType: IPType
        var area: Area
        var domainID: String
        var createdAt: String
        var updatedAt: String
    }

    func byoipPools(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = context.caller
        let pools = self.configuration.byoipPools.map { pool in
            BYOIPPoolDetail(
                id: Self.stableID(pool.cidr.description),
                cidr: pool.cidr.description,
                ipType: pool.cidr.base.isIPv4 ? .ipv4 : .ipv6,
                area: pool.area,
                domainID: caller.domainID,
                createdAt: self.started,
                updatedAt: self.started
            )
        }
        return try self.page("byoip_pools", pools.sorted { $0.id < $1.id }, id: \.id, request: request, context: context)
    }

    /// Marker paging over a short in-memory list ordered by id.
    private func page<T: Encodable>(
        _ key: String,
        _ items: [T],
        id: (T) -> String,
        request: Request,
        context: AuthenticatedContext
    ) throws -> Response {
        let query = try RequestParsing.listQuery(request, filters: [])
        let after = items.filter { item in query.marker.map { id(item) > $0 } ?? true }
        let page = Array(after.prefix(query.limit))
        let next = after.count > query.limit ? page.last.map(id) : nil
        return try JSONResponse.make(
            .ok,
            [key: page, "page_info": JSONResponse.PageInfo(nextMarker: next, currentCount: page.count)],
            context: context
        )
    }

    /// A UUID-shaped id derived from a name, the same on every start.
    static func stableID(_ name: String) -> String {
        let hex = SHA256.hash(data: Data(name.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        let chars = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }.joined(separator: "-")
    }
}
