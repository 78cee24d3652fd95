import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `GET /v1/regions`: the configured regions endpoint groups may use.
struct RegionController {
    let regions: [RegionInfo]

    var endpoints: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.get(use: self.list)
        return routes
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        return try JSONResponse.make(.ok, ["regions": self.regions], context: context)
    }
}
