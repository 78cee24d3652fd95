import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// The five routes of a GA resource collection, as the GA API reference lays them out: create (`POST`, 201),
/// list (`GET`, with `page_info`), show (`GET /{id}`), update (`PUT /{id}`) and delete (`DELETE /{id}`, 204). Single
/// resources travel under `key` (`{"listener": {…}}`), lists under `listKey`, and every body carries `request_id`.
///
/// A kind is described by a value of this type: its keys and list filters (the bodies' schemas come with their types,
/// ``GARequestBody``), and closures that call the
/// control plane with the authenticated caller.
struct ResourceRoutes<Spec: ResourceSpec, Create: GARequestBody, Update: GARequestBody, Detail: Encodable & Sendable>: Sendable {
    /// Body key of one resource (`listener`) and of a list (`listeners`).
    var key: String
    var listKey: String
    /// Path capture of the resource id (`listener_id`).
    var idParameter: String
    /// Query filters the list accepts (`id`, `name`, `status`, `enterprise_project_id`) and its parent filter.
    var listFilters: Set<String>
    var parentKey: String? = nil
    var detail: @Sendable (Resource<Spec>) -> Detail
    var create: @Sendable (AuthenticatedContext, Create) async throws -> Resource<Spec>
    var list: @Sendable (AuthenticatedContext, ListQuery, Request) async throws -> Page<Spec>
    var show: @Sendable (AuthenticatedContext, _ id: String) async throws -> Resource<Spec>
    var update: @Sendable (AuthenticatedContext, _ id: String, Update) async throws -> Resource<Spec>
    var delete: @Sendable (AuthenticatedContext, _ id: String) async throws -> Void

    /// The routes, relative to the collection's path.
    var collection: RouteCollection<AuthenticatedContext> {
        let routes = RouteCollection(context: AuthenticatedContext.self)
        routes.add(self)
        return routes
    }
}

extension RouteCollection<AuthenticatedContext> {
    /// Adds the five routes of `resource` at this collection's root.
    func add<Spec, Create, Update, Detail>(_ resource: ResourceRoutes<Spec, Create, Update, Detail>) {
        let item = RouterPath(":\(resource.idParameter)")
        self.post { request, context in
            let options = try await request.decode(as: Create.self, context: context)
            let created = try await resource.create(context, options)
            return EditedResponse(status: .created, response: ResourceReply(key: resource.key, detail: resource.detail(created)))
        }
        self.get { request, context in
            let query = try RequestParsing.listQuery(request, filters: resource.listFilters, parentKey: resource.parentKey)
            let page = try await resource.list(context, query, request)
            return PageReply(key: resource.listKey, items: page.items.map(resource.detail), nextMarker: page.nextMarker)
        }
        self.get(item) { _, context in
            let found = try await resource.show(context, try RequestParsing.id(resource.idParameter, context: context))
            return ResourceReply(key: resource.key, detail: resource.detail(found))
        }
        self.put(item) { request, context in
            let id = try RequestParsing.id(resource.idParameter, context: context)
            let options = try await request.decode(as: Update.self, context: context)
            let updated = try await resource.update(context, id, options)
            return ResourceReply(key: resource.key, detail: resource.detail(updated))
        }
        self.delete(item) { _, context in
            try await resource.delete(context, try RequestParsing.id(resource.idParameter, context: context))
            return HTTPResponse.Status.noContent
        }
    }
}
