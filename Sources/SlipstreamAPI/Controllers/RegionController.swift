import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `GET /v1/regions`: the configured regions endpoint groups may use.
struct RegionController {
    let regions: [RegionInfo]

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.get(use: self.list)
        return routes
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        _ = try context.requireCaller()
        return try JSONResponse.make(.ok, ["regions": self.regions], context: context)
    }
}
