import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/health-checks`
struct HealthCheckController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post(use: self.create)
        routes.get(use: self.list)
        routes.get(":health_check_id", use: self.show)
        routes.put(":health_check_id", use: self.update)
        routes.delete(":health_check_id", use: self.delete)
        return routes
    }

    func create(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let options = try await RequestParsing.body(
            HealthCheckOptions.Create.self,
            key: "health_check",
            schema: RequestSchemas.createHealthCheck,
            request: request
        )
        let check = try await self.controlPlane.createHealthCheck(domainID: caller.domainID, options)
        return try JSONResponse.make(.created, ["health_check": HealthCheckDetail(check)], context: context)
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let query = try RequestParsing.listQuery(request, filters: ["id", "status"], parentKey: "endpoint_group_id")
        let page = try await self.controlPlane.healthChecks(domainID: caller.domainID, query: query)
        return try JSONResponse.page("health_checks", page, HealthCheckDetail.init, context: context)
    }

    func show(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("health_check_id", context: context)
        let check = try await self.controlPlane.healthCheck(domainID: caller.domainID, id: id)
        return try JSONResponse.make(.ok, ["health_check": HealthCheckDetail(check)], context: context)
    }

    func update(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("health_check_id", context: context)
        let options = try await RequestParsing.body(
            HealthCheckOptions.Update.self,
            key: "health_check",
            schema: RequestSchemas.updateHealthCheck,
            request: request
        )
        let check = try await self.controlPlane.updateHealthCheck(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, ["health_check": HealthCheckDetail(check)], context: context)
    }

    func delete(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("health_check_id", context: context)
        try await self.controlPlane.deleteHealthCheck(domainID: caller.domainID, id: id)
        return JSONResponse.noContent()
    }
}
