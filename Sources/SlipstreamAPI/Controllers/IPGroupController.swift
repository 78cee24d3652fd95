import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/ip-groups`: address groups and their binding to listeners as allow or deny lists.
struct IPGroupController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post(use: self.create)
        routes.get(use: self.list)
        routes.get(":ip_group_id", use: self.show)
        routes.put(":ip_group_id", use: self.update)
        routes.delete(":ip_group_id", use: self.delete)
        routes.post(":ip_group_id/add-ips", use: self.addIPs)
        routes.post(":ip_group_id/remove-ips", use: self.removeIPs)
        routes.post(":ip_group_id/associate-listener", use: self.associate)
        routes.post(":ip_group_id/disassociate-listener", use: self.disassociate)
        return routes
    }

    func create(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let options = try await RequestParsing.body(
            IPGroupOptions.Create.self,
            key: "ip_group",
            schema: RequestSchemas.createIPGroup,
            request: request
        )
        let group = try await self.controlPlane.createIPGroup(domainID: caller.domainID, options)
        return try JSONResponse.make(.created, ["ip_group": IPGroupDetail(group)], context: context)
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let query = try RequestParsing.listQuery(request, filters: [])
        let listenerID = request.uri.queryParameters["listener_id"].map(String.init)
        let page = try await self.controlPlane.ipGroups(domainID: caller.domainID, query: query, listenerID: listenerID)
        return try JSONResponse.page("ip_groups", page, { IPGroupDetail($0, onlyListener: listenerID) }, context: context)
    }

    func show(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let group = try await self.controlPlane.ipGroup(domainID: caller.domainID, id: try RequestParsing.id("ip_group_id", context: context))
        return try JSONResponse.make(.ok, ["ip_group": IPGroupDetail(group)], context: context)
    }

    func update(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("ip_group_id", context: context)
        let options = try await RequestParsing.body(
            IPGroupOptions.Update.self,
            key: "ip_group",
            schema: RequestSchemas.updateIPGroup,
            request: request
        )
        let group = try await self.controlPlane.updateIPGroup(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, ["ip_group": IPGroupDetail(group)], context: context)
    }

    func delete(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        try await self.controlPlane.deleteIPGroup(domainID: caller.domainID, id: try RequestParsing.id("ip_group_id", context: context))
        return JSONResponse.noContent()
    }

    func addIPs(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("ip_group_id", context: context)
        let options = try await RequestParsing.body(IPGroupOptions.AddIPs.self, key: nil, schema: RequestSchemas.addIPs, request: request)
        try await self.controlPlane.addIPs(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, [:], context: context)
    }

    func removeIPs(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("ip_group_id", context: context)
        let options = try await RequestParsing.body(IPGroupOptions.RemoveIPs.self, key: nil, schema: RequestSchemas.removeIPs, request: request)
        try await self.controlPlane.removeIPs(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, [:], context: context)
    }

    func associate(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("ip_group_id", context: context)
        let options = try await RequestParsing.body(
            IPGroupOptions.Associate.self,
            key: nil,
            schema: RequestSchemas.associateListener,
            request: request
        )
        try await self.controlPlane.associateListener(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, [:], context: context)
    }

    func disassociate(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("ip_group_id", context: context)
        let options = try await RequestParsing.body(
            IPGroupOptions.Disassociate.self,
            key: nil,
            schema: RequestSchemas.disassociateListener,
            request: request
        )
        try await self.controlPlane.disassociateListener(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, [:], context: context)
    }
}
