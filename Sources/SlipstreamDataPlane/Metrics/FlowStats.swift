import Atomics

/// Traffic counters of one listener or one endpoint. Updated from the event loops without locks.
public final class FlowStats: Sendable {
    /// Flows open now.
    public let active = ManagedAtomic<Int>(0)
    /// Flows ever opened.
    public let total = ManagedAtomic<Int>(0)
    /// Bytes from clients towards endpoints.
    public let bytesIn = ManagedAtomic<Int>(0)
    /// Bytes from endpoints back to clients.
    public let bytesOut = ManagedAtomic<Int>(0)
    /// Backend connects that failed or timed out.
    public let connectFailures = ManagedAtomic<Int>(0)
    /// Flows refused before reaching an endpoint (no endpoint, all connects failed, session table full).
    public let refused = ManagedAtomic<Int>(0)
    /// New flows the listener's IP group (access control) turned away.
    public let denied = ManagedAtomic<Int>(0)
    /// UDP datagrams dropped: no session could be opened (no endpoint, a session budget reached) or the datagram
    /// could not be carried whole.
    public let droppedDatagrams = ManagedAtomic<Int>(0)
    /// UDP sessions ended because their endpoint socket failed (an ICMP error such as port unreachable, a failed
    /// write); the client's next datagram opens a new session.
    public let sessionErrors = ManagedAtomic<Int>(0)

    public init() {}

    func opened() {
        self.active.wrappingIncrement(ordering: .relaxed)
        self.total.wrappingIncrement(ordering: .relaxed)
    }

    func closed() {
        self.active.wrappingDecrement(ordering: .relaxed)
    }
}
