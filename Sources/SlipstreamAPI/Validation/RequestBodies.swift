import Hummingbird
import SlipstreamModel

/// A request body of the GA API: where its options sit and the schema they are checked against before decoding.
protocol GARequestBody: Decodable, Sendable {
    /// The body member holding the options (`listener` in `{"listener": {…}}`), or nil when the body is the options.
    static var key: String? { get }
    /// The body's schema, from `openapi.json` (``RequestSchemas``).
    static var schema: Schema { get }
}

/// The request decoder of the `/v1` routes: `request.decode(as:context:)` checks the body against its
/// ``GARequestBody`` schema (400 GA.9001 naming the field) and decodes the options.
struct GARequestDecoder: RequestDecoder {
    func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        guard let body = T.self as? any GARequestBody.Type else {
            preconditionFailure("\(T.self) is not a GARequestBody: every /v1 body states its schema")
        }
        return try await RequestParsing.body(T.self, key: body.key, schema: body.schema, request: request)
    }
}

extension AcceleratorOptions.Create: GARequestBody {
    static var key: String? { "accelerator" }
    static var schema: Schema { RequestSchemas.createAccelerator }
}

extension AcceleratorOptions.Update: GARequestBody {
    static var key: String? { "accelerator" }
    static var schema: Schema { RequestSchemas.updateAccelerator }
}

extension ListenerOptions.Create: GARequestBody {
    static var key: String? { "listener" }
    static var schema: Schema { RequestSchemas.createListener }
}

extension ListenerOptions.Update: GARequestBody {
    static var key: String? { "listener" }
    static var schema: Schema { RequestSchemas.updateListener }
}

extension EndpointGroupOptions.Create: GARequestBody {
    static var key: String? { "endpoint_group" }
    static var schema: Schema { RequestSchemas.createEndpointGroup }
}

extension EndpointGroupOptions.Update: GARequestBody {
    static var key: String? { "endpoint_group" }
    static var schema: Schema { RequestSchemas.updateEndpointGroup }
}

extension EndpointOptions.Create: GARequestBody {
    static var key: String? { "endpoint" }
    static var schema: Schema { RequestSchemas.createEndpoint }
}

extension EndpointOptions.Update: GARequestBody {
    static var key: String? { "endpoint" }
    static var schema: Schema { RequestSchemas.updateEndpoint }
}

extension HealthCheckOptions.Create: GARequestBody {
    static var key: String? { "health_check" }
    static var schema: Schema { RequestSchemas.createHealthCheck }
}

extension HealthCheckOptions.Update: GARequestBody {
    static var key: String? { "health_check" }
    static var schema: Schema { RequestSchemas.updateHealthCheck }
}

extension LogtankOptions.Create: GARequestBody {
    static var key: String? { "logtank" }
    static var schema: Schema { RequestSchemas.createLogtank }
}

extension LogtankOptions.Update: GARequestBody {
    static var key: String? { "logtank" }
    static var schema: Schema { RequestSchemas.updateLogtank }
}

extension IPGroupOptions.Create: GARequestBody {
    static var key: String? { "ip_group" }
    static var schema: Schema { RequestSchemas.createIPGroup }
}

extension IPGroupOptions.Update: GARequestBody {
    static var key: String? { "ip_group" }
    static var schema: Schema { RequestSchemas.updateIPGroup }
}

extension IPGroupOptions.AddIPs: GARequestBody {
    static var key: String? { nil }
    static var schema: Schema { RequestSchemas.addIPs }
}

extension IPGroupOptions.RemoveIPs: GARequestBody {
    static var key: String? { nil }
    static var schema: Schema { RequestSchemas.removeIPs }
}

extension IPGroupOptions.Associate: GARequestBody {
    static var key: String? { nil }
    static var schema: Schema { RequestSchemas.associateListener }
}

extension IPGroupOptions.Disassociate: GARequestBody {
    static var key: String? { nil }
    static var schema: Schema { RequestSchemas.disassociateListener }
}

extension TagOptions.Create: GARequestBody {
    static var key: String? { nil }
    static var schema: Schema { RequestSchemas.createTags }
}

extension TagOptions.Delete: GARequestBody {
    static var key: String? { nil }
    static var schema: Schema { RequestSchemas.deleteTags }
}

extension TagOptions.Filter: GARequestBody {
    static var key: String? { nil }
    static var schema: Schema { RequestSchemas.tagFilter }
}
