import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// Tags of accelerators (`ga-accelerators`) and listeners (`ga-listeners`): per resource, the keys in use, and
/// queries by tag with offset paging.
struct TagController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<AuthenticatedContext> {
        // `:scope` is the resource type (`ga-accelerators`, `ga-listeners`); the quota route shares the capture.
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.post(":scope/:resource_id/tags/create", use: self.create)
        routes.delete(":scope/:resource_id/tags/delete", use: self.delete)
        routes.get(":scope/:resource_id/tags", use: self.show)
        routes.get(":scope/tags", use: self.keys)
        routes.post(":scope/resource-instances/filter", use: self.filter)
        routes.post(":scope/resource-instances/count", use: self.count)
        return routes
    }

    /// The spec type behind a `resource_type` path segment.
    enum Kind {
        case accelerators
        case listeners

        init(_ context: AuthenticatedContext) throws {
            switch try RequestParsing.pathParameter("scope", named: "resource_type", context: context) {
            case "ga-accelerators": self = .accelerators
            case "ga-listeners": self = .listeners
            default: throw GAError.invalid("resource_type", "must be ga-accelerators or ga-listeners")
            }
        }
    }

    func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = context.caller
        let kind = try Kind(context)
        let id = try RequestParsing.id("resource_id", context: context)
        let body = try await request.decode(as: TagOptions.Create.self, context: context)
        switch kind {
        case .accelerators: try await self.controlPlane.addTags(AcceleratorSpec.self, domainID: caller.domainID, id: id, body.tags)
        case .listeners: try await self.controlPlane.addTags(ListenerSpec.self, domainID: caller.domainID, id: id, body.tags)
        }
        return JSONResponse.noContent()
    }

    func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = context.caller
        let kind = try Kind(context)
        let id = try RequestParsing.id("resource_id", context: context)
        let keys = try await request.decode(as: TagOptions.Delete.self, context: context).tags.map(
            \.key
        )
        switch kind {
        case .accelerators: try await self.controlPlane.removeTags(AcceleratorSpec.self, domainID: caller.domainID, id: id, keys: keys)
        case .listeners: try await self.controlPlane.removeTags(ListenerSpec.self, domainID: caller.domainID, id: id, keys: keys)
        }
        return JSONResponse.noContent()
    }

    func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = context.caller
        let kind = try Kind(context)
        let id = try RequestParsing.id("resource_id", context: context)
        let tags =
            switch kind {
            case .accelerators: try await self.controlPlane.tags(AcceleratorSpec.self, domainID: caller.domainID, id: id)
            case .listeners: try await self.controlPlane.tags(ListenerSpec.self, domainID: caller.domainID, id: id)
            }
        return try JSONResponse.make(.ok, ["tags": tags], context: context)
    }

    func keys(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let caller = context.caller
        let kind = try Kind(context)
        let (limit, offset) = try Self.offsetPaging(request)
        let keys =
            switch kind {
            case .accelerators: try await self.controlPlane.tagKeys(AcceleratorSpec.self, domainID: caller.domainID)
            case .listeners: try await self.controlPlane.tagKeys(ListenerSpec.self, domainID: caller.domainID)
            }
        return try JSONResponse.make(.ok, ["tags": Array(keys.dropFirst(offset).prefix(limit)), "total_count": keys.count], context: context)
    }

    func filter(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (limit, offset) = try Self.offsetPaging(request)
        let found = try await self.matching(request, context: context)
        return try JSONResponse.make(.ok, ["resources": Array(found.dropFirst(offset).prefix(limit)), "total_count": found.count], context: context)
    }

    func count(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let found = try await self.matching(request, context: context)
        return try JSONResponse.make(.ok, ["total_count": found.count], context: context)
    }

    private func matching(_ request: Request, context: AuthenticatedContext) async throws -> [ResourceTags] {
        let caller = context.caller
        let kind = try Kind(context)
        // An empty body means no filter.
        let empty = try await request.body.collect(upTo: .max).readableBytes == 0
        let filter =
            empty
            ? TagOptions.Filter()
            : try await request.decode(as: TagOptions.Filter.self, context: context)
        switch kind {
        case .accelerators: return try await self.controlPlane.resources(AcceleratorSpec.self, domainID: caller.domainID, matching: filter)
        case .listeners: return try await self.controlPlane.resources(ListenerSpec.self, domainID: caller.domainID, matching: filter)
        }
    }

    /// `limit` 1–1000 (default 1000) and `offset` ≥ 0 (default 0).
    static func offsetPaging(_ request: Request) throws -> (limit: Int, offset: Int) {
        let parameters = request.uri.queryParameters
        var limit = 1000
        var offset = 0
        if let raw = parameters["limit"] {
            guard let value = Int(raw), (1...1000).contains(value) else { throw GAError.invalid("limit", "must be an integer between 1 and 1000") }
            limit = value
        }
        if let raw = parameters["offset"] {
            guard let value = Int(raw), value >= 0 else { throw GAError.invalid("offset", "must be a non-negative integer") }
            offset = value
        }
        return (limit, offset)
    }
}
