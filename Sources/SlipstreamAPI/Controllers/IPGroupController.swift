import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/ip-groups`: address groups and their binding to listeners as allow or deny lists.
struct IPGroupController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
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

    func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let options = try await request.decode(as: IPGroupOptions.Create.self, context: context)
        let group = try await self.controlPlane.createIPGroup(domainID: context.caller.domainID, options)
        return try JSONResponse.make(.created, ["ip_group": IPGroupDetail(group)], context: context)
    }

    func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let query = try RequestParsing.listQuery(request, filters: [])
        let listenerID = request.uri.queryParameters["listener_id"].map(String.init)
        let page = try await self.controlPlane.ipGroups(domainID: context.caller.domainID, query: query, listenerID: listenerID)
        return try JSONResponse.page("ip_groups", page, { IPGroupDetail($0, onlyListener: listenerID) }, context: context)
    }

    func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let group = try await self.controlPlane.ipGroup(domainID: context.caller.domainID, id: try RequestParsing.id("ip_group_id", context: context))
        return try JSONResponse.make(.ok, ["ip_group": IPGroupDetail(group)], context: context)
    }

    func update(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try RequestParsing.id("ip_group_id", context: context)
        let options = try await request.decode(as: IPGroupOptions.Update.self, context: context)
        let group = try await self.controlPlane.updateIPGroup(domainID: context.caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, ["ip_group": IPGroupDetail(group)], context: context)
    }

    func delete(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await self.controlPlane.deleteIPGroup(domainID: context.caller.domainID, id: try RequestParsing.id("ip_group_id", context: context))
        return JSONResponse.noContent()
    }

    func addIPs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await self.action(request, context) { (options: IPGroupOptions.AddIPs, domainID, id) in
            try await self.controlPlane.addIPs(domainID: domainID, id: id, options)
        }
    }

    func removeIPs(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await self.action(request, context) { (options: IPGroupOptions.RemoveIPs, domainID, id) in
            try await self.controlPlane.removeIPs(domainID: domainID, id: id, options)
        }
    }

    func associate(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await self.action(request, context) { (options: IPGroupOptions.Associate, domainID, id) in
            try await self.controlPlane.associateListener(domainID: domainID, id: id, options)
        }
    }

    func disassociate(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await self.action(request, context) { (options: IPGroupOptions.Disassociate, domainID, id) in
            try await self.controlPlane.disassociateListener(domainID: domainID, id: id, options)
        }
    }

    /// `POST /v1/ip-groups/{ip_group_id}/<action>`: the body checked and decoded, then `perform`; answers 200 with only
    /// `request_id`.
    private func action<Options: GARequestBody>(
        _ request: Request,
        _ context: AuthenticatedContext,
        perform: (Options, _ domainID: String, _ id: String) async throws -> Void
    ) async throws -> Response {
        let id = try RequestParsing.id("ip_group_id", context: context)
        let options = try await request.decode(as: Options.self, context: context)
        try await perform(options, context.caller.domainID, id)
        return try JSONResponse.make(.ok, [:], context: context)
    }
}
