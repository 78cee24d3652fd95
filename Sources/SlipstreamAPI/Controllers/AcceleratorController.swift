import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// `/v1/accelerators`
struct AcceleratorController {
    let controlPlane: ControlPlane

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post(use: self.create)
        routes.get(use: self.list)
        routes.get(":accelerator_id", use: self.show)
        routes.put(":accelerator_id", use: self.update)
        routes.delete(":accelerator_id", use: self.delete)
        return routes
    }

    func create(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let options = try await RequestParsing.body(
            AcceleratorOptions.Create.self,
            key: "accelerator",
            schema: RequestSchemas.createAccelerator,
            request: request
        )
        let accelerator = try await self.controlPlane.createAccelerator(domainID: caller.domainID, options)
        return try JSONResponse.make(.created, ["accelerator": AcceleratorDetail(accelerator)], context: context)
    }

    func list(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let query = try RequestParsing.listQuery(request, filters: ["id", "name", "status", "enterprise_project_id"])
        let page = try await self.controlPlane.accelerators(domainID: caller.domainID, query: query)
        return try JSONResponse.page("accelerators", page, AcceleratorDetail.init, context: context)
    }

    func show(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("accelerator_id", context: context)
        let accelerator = try await self.controlPlane.accelerator(domainID: caller.domainID, id: id)
        return try JSONResponse.make(.ok, ["accelerator": AcceleratorDetail(accelerator)], context: context)
    }

    func update(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("accelerator_id", context: context)
        let options = try await RequestParsing.body(
            AcceleratorOptions.Update.self,
            key: "accelerator",
            schema: RequestSchemas.updateAccelerator,
            request: request
        )
        let accelerator = try await self.controlPlane.updateAccelerator(domainID: caller.domainID, id: id, options)
        return try JSONResponse.make(.ok, ["accelerator": AcceleratorDetail(accelerator)], context: context)
    }

    func delete(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let id = try RequestParsing.id("accelerator_id", context: context)
        try await self.controlPlane.deleteAccelerator(domainID: caller.domainID, id: id)
        return JSONResponse.noContent()
    }
}
