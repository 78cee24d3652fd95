import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// Request context of the `/v1` routes: the parent context after ``AuthMiddleware`` has authenticated the caller, so
/// the caller is always there.
struct AuthenticatedContext: ChildRequestContext, RequestIdentified {
    typealias ParentContext = SlipstreamRequestContext

    var coreContext: CoreRequestContextStorage
    let requestID: String
    let caller: Caller
    /// Bodies are checked against their schema, then decoded (``GARequestDecoder``).
    var requestDecoder: GARequestDecoder { GARequestDecoder() }
    /// Typed replies become GA bodies with `request_id` (``GAResponseEncoder``).
    var responseEncoder: GAResponseEncoder { GAResponseEncoder() }

    /// - Throws: 401 APIGW.0301 when the parent context carries no caller (a route outside ``AuthMiddleware``'s
    ///   reach; none is).
    init(context: SlipstreamRequestContext) throws {
        guard let caller = context.caller else { throw GAError.unauthorized("authentication required") }
        self.coreContext = context.coreContext
        self.requestID = context.requestID
        self.caller = caller
    }
}

/// A request context that knows its request id, which every GA response body and `X-Request-Id` carry.
protocol RequestIdentified {
    var requestID: String { get }
}

extension SlipstreamRequestContext: RequestIdentified {}
