import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// Request context of every route: the request id and, after authentication, the caller.
public struct SlipstreamRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Echoed in `X-Request-Id` and in every body's `request_id`.
    public var requestID = ""
    /// Set by ``AuthMiddleware`` on authenticated routes.
    public var caller: Caller?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    /// The authenticated caller; routes behind ``AuthMiddleware`` always have one.
    func requireCaller() throws -> Caller {
        guard let caller = self.caller else { throw GAError.unauthorized("authentication required") }
        return caller
    }
}
