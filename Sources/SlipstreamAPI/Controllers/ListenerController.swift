import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/listeners`
struct ListenerController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post(use: self.create)
        routes.get(use: self.list)
        routes.get(":listener_id", use: self.show)
        routes.put(":listener_id", use: self.update)
        routes.delete(":listener_id", use: self.delete)
        return routes
    }

    func create(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let options = try await RequestParsing.body(
            ListenerOptions.Create.self,
            key: "listener",
            schema: RequestSchemas.createListener,
            request: request
        )
        let listener = try await self.controlPlane.createListener(domainID: caller.domainID, options)
        return try JSONResponse.make(.created, ["listener": ListenerDetail(listener)], context: context)
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let query = try RequestParsing.listQuery(request, filters: ["id", "name", "status"], parentKey: "accelerator_id")
        let page = try await self.controlPlane.listeners(domainID: caller.domainID, query: query)
        return try JSONResponse.page("listeners", page, ListenerDetail.init, context: context)
    }

    func show(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("listener_id", context: context)
        let listener = try await self.controlPlane.listener(domainID: caller.domainID, id: id)
        return try JSONResponse.make(.ok, ["listener": ListenerDetail(listener)], context: context)
    }

    func update(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("listener_id", context: context)
        let options = try await RequestParsing.body(
            ListenerOptions.Update.self,
            key: "listener",
            schema: RequestSchemas.updateListener,
            request: request
        )
        let listener = try await self.controlPlane.updateListener(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, ["listener": ListenerDetail(listener)], context: context)
    }

    func delete(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("listener_id", context: context)
        try await self.controlPlane.deleteListener(domainID: caller.domainID, id: id)
        return JSONResponse.noContent()
    }
}
