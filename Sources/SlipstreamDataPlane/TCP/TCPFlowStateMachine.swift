/// How a flow ended before reaching an endpoint, as the access log names it.
enum FlowRefusal: String, Sendable {
    /// The listener's IP group turned the client away.
    case denied
    /// No endpoint group could take the flow (none routable, or traffic dial 0 everywhere).
    case noEndpoint = "no_endpoint"
    /// Every endpoint tried failed to connect.
    case connectFailed = "connect_failed"
}

/// The life of one TCP flow until it is spliced, as a value: events in, actions out. ``TCPConnectHandler`` carries
/// the actions out and owns no decisions of its own.
struct TCPFlowStateMachine: Equatable {
    enum State: Equatable {
        case idle
        /// Dialling target `attempt` of `targets`.
        case connecting(attempt: Int, targets: Int)
        case spliced
        case closed
    }

    enum Action: Equatable {
        /// Close the client connection: with a FIN for `denied`, with a reset otherwise; log `refusal`.
        case refuse(FlowRefusal)
        /// Dial target `attempt`.
        case connect(attempt: Int)
        /// Splice the client to the endpoint connection of `attempt`.
        case splice(attempt: Int)
        /// An endpoint connection the flow no longer wants: close it.
        case discardEndpoint
        case none
    }

    private(set) var state = State.idle

    /// A client connected; `admitted` by access control, with `targets` endpoints to try.
    mutating func clientConnected(admitted: Bool, targets: Int) -> Action {
        guard self.state == .idle else { return .none }
        guard admitted else {
            self.state = .closed
            return .refuse(.denied)
        }
        guard targets > 0 else {
            self.state = .closed
            return .refuse(.noEndpoint)
        }
        self.state = .connecting(attempt: 0, targets: targets)
        return .connect(attempt: 0)
    }

    mutating func connectSucceeded(attempt: Int) -> Action {
        guard case .connecting(let current, _) = self.state, current == attempt else { return .discardEndpoint }
        self.state = .spliced
        return .splice(attempt: attempt)
    }

    mutating func connectFailed(attempt: Int) -> Action {
        guard case .connecting(let current, let targets) = self.state, current == attempt else { return .none }
        guard attempt + 1 < targets else {
            self.state = .closed
            return .refuse(.connectFailed)
        }
        self.state = .connecting(attempt: attempt + 1, targets: targets)
        return .connect(attempt: attempt + 1)
    }

    /// The client went away (closed or reset) before the splice; a connect still under way is discarded when it
    /// completes.
    mutating func clientClosed() {
        if self.state != .spliced { self.state = .closed }
    }
}
