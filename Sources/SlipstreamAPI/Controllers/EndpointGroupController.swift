import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/endpoint-groups` (its endpoints are served by ``EndpointController``).
struct EndpointGroupController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post(use: self.create)
        routes.get(use: self.list)
        routes.get(":endpoint_group_id", use: self.show)
        routes.put(":endpoint_group_id", use: self.update)
        routes.delete(":endpoint_group_id", use: self.delete)
        return routes
    }

    func create(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let options = try await RequestParsing.body(
            EndpointGroupOptions.Create.self,
            key: "endpoint_group",
            schema: RequestSchemas.createEndpointGroup,
            request: request
        )
        let group = try await self.controlPlane.createEndpointGroup(domainID: caller.domainID, options)
        return try JSONResponse.make(.created, ["endpoint_group": EndpointGroupDetail(group)], context: context)
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let query = try RequestParsing.listQuery(request, filters: ["id", "name", "status"], parentKey: "listener_id")
        let page = try await self.controlPlane.endpointGroups(domainID: caller.domainID, query: query)
        return try JSONResponse.page("endpoint_groups", page, EndpointGroupDetail.init, context: context)
    }

    func show(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("endpoint_group_id", context: context)
        let group = try await self.controlPlane.endpointGroup(domainID: caller.domainID, id: id)
        return try JSONResponse.make(.ok, ["endpoint_group": EndpointGroupDetail(group)], context: context)
    }

    func update(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("endpoint_group_id", context: context)
        let options = try await RequestParsing.body(
            EndpointGroupOptions.Update.self,
            key: "endpoint_group",
            schema: RequestSchemas.updateEndpointGroup,
            request: request
        )
        let group = try await self.controlPlane.updateEndpointGroup(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, ["endpoint_group": EndpointGroupDetail(group)], context: context)
    }

    func delete(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("endpoint_group_id", context: context)
        try await self.controlPlane.deleteEndpointGroup(domainID: caller.domainID, id: id)
        return JSONResponse.noContent()
    }
}
