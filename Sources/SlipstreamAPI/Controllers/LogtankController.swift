import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/logtanks`: access logs of listeners.
struct LogtankController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post(use: self.create)
        routes.get(use: self.list)
        routes.get(":logtank_id", use: self.show)
        routes.put(":logtank_id", use: self.update)
        routes.delete(":logtank_id", use: self.delete)
        return routes
    }

    func create(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let options = try await RequestParsing.body(
            LogtankOptions.Create.self,
            key: "logtank",
            schema: RequestSchemas.createLogtank,
            request: request
        )
        let logtank = try await self.controlPlane.createLogtank(domainID: caller.domainID, options)
        return try JSONResponse.make(.created, ["logtank": LogtankDetail(logtank)], context: context)
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let query = try RequestParsing.listQuery(request, filters: ["id", "status"])
        if let type = request.uri.queryParameters["resource_type"], type != "LISTENER" {
            throw GAError.invalid("resource_type", "must be LISTENER")
        }
        let resourceIDs = request.uri.queryParameters[values: "resource_ids"].map(String.init)
        let page = try await self.controlPlane.logtanks(domainID: caller.domainID, query: query, resourceIDs: resourceIDs)
        return try JSONResponse.page("logtanks", page, LogtankDetail.init, context: context)
    }

    func show(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let logtank = try await self.controlPlane.logtank(domainID: caller.domainID, id: try RequestParsing.id("logtank_id", context: context))
        return try JSONResponse.make(.ok, ["logtank": LogtankDetail(logtank)], context: context)
    }

    func update(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("logtank_id", context: context)
        let options = try await RequestParsing.body(
            LogtankOptions.Update.self,
            key: "logtank",
            schema: RequestSchemas.updateLogtank,
            request: request
        )
        let logtank = try await self.controlPlane.updateLogtank(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, ["logtank": LogtankDetail(logtank)], context: context)
    }

    func delete(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try await self.controlPlane.deleteLogtank(domainID: caller.domainID, id: try RequestParsing.id("logtank_id", context: context))
        return JSONResponse.noContent()
    }
}
