import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// Request context of every route: the request id and, after authentication, the caller (the `/v1` routes see it
/// as an ``AuthenticatedContext``).
public struct SlipstreamRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Echoed in `X-Request-Id` and in every body's `request_id`.
    public var requestID = ""
    /// Set by ``AuthMiddleware`` on authenticated routes.
    public var caller: Caller?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}
