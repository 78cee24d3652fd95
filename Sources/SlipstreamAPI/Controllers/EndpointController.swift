import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/endpoint-groups/{endpoint_group_id}/endpoints`
struct EndpointController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post(use: self.create)
        routes.get(use: self.list)
        routes.get(":endpoint_id", use: self.show)
        routes.put(":endpoint_id", use: self.update)
        routes.delete(":endpoint_id", use: self.delete)
        return routes
    }

    func create(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let groupID = try RequestParsing.id("endpoint_group_id", context: context)
        let options = try await RequestParsing.body(
            EndpointOptions.Create.self,
            key: "endpoint",
            schema: RequestSchemas.createEndpoint,
            request: request
        )
        let endpoint = try await self.controlPlane.createEndpoint(domainID: caller.domainID, groupID: groupID, options)
        return try JSONResponse.make(.created, ["endpoint": EndpointDetail(endpoint)], context: context)
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let groupID = try RequestParsing.id("endpoint_group_id", context: context)
        let query = try RequestParsing.listQuery(request, filters: ["id", "status"])
        let page = try await self.controlPlane.endpoints(domainID: caller.domainID, groupID: groupID, query: query)
        return try JSONResponse.page("endpoints", page, EndpointDetail.init, context: context)
    }

    func show(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let groupID = try RequestParsing.id("endpoint_group_id", context: context)
        let id = try RequestParsing.id("endpoint_id", context: context)
        let endpoint = try await self.controlPlane.endpoint(domainID: caller.domainID, groupID: groupID, id: id)
        return try JSONResponse.make(.ok, ["endpoint": EndpointDetail(endpoint)], context: context)
    }

    func update(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let groupID = try RequestParsing.id("endpoint_group_id", context: context)
        let id = try RequestParsing.id("endpoint_id", context: context)
        let options = try await RequestParsing.body(
            EndpointOptions.Update.self,
            key: "endpoint",
            schema: RequestSchemas.updateEndpoint,
            request: request
        )
        let endpoint = try await self.controlPlane.updateEndpoint(domainID: caller.domainID, groupID: groupID, id: id, options)
        return try JSONResponse.make(.ok, ["endpoint": EndpointDetail(endpoint)], context: context)
    }

    func delete(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let groupID = try RequestParsing.id("endpoint_group_id", context: context)
        let id = try RequestParsing.id("endpoint_id", context: context)
        try await self.controlPlane.deleteEndpoint(domainID: caller.domainID, groupID: groupID, id: id)
        return JSONResponse.noContent()
    }
}
