import Atomics
import NIOCore

/// Traffic counters of one listener or one endpoint. Updated from the flow loops without locks.
///
/// The counters every flow touches (flows open and opened, bytes each way) keep one slot per flow loop, each on a
/// cache line of its own, so the loops never write the same line; `/metrics` sums the slots when it is scraped.
/// The rarer ones are single atomics.
public final class FlowStats: Sendable {
    /// Flows open now.
    public let active: LoopCounter
    /// Flows ever opened.
    public let total: LoopCounter
    /// Bytes from clients towards endpoints.
    public let bytesIn: LoopCounter
    /// Bytes from endpoints back to clients.
    public let bytesOut: LoopCounter
    /// Backend connects that failed or timed out.
    public let connectFailures = ManagedAtomic<Int>(0)
    /// Flows refused before reaching an endpoint (no endpoint, all connects failed, session table full).
    public let refused = ManagedAtomic<Int>(0)
    /// New flows the listener's IP group (access control) turned away.
    public let denied = ManagedAtomic<Int>(0)
    /// UDP datagrams the PoP dropped: no session could be opened (no endpoint, a session budget reached), the
    /// datagram could not be carried whole, or its send failed (a send buffer full, an error of the socket).
    public let droppedDatagrams = ManagedAtomic<Int>(0)
    /// UDP sessions ended because their endpoint socket failed (an ICMP error such as port unreachable, a failed
    /// write); the client's next datagram opens a new session.
    public let sessionErrors = ManagedAtomic<Int>(0)
    /// UDP datagrams the kernel dropped at a socket before the PoP read them, mostly because its receive buffer was
    /// full (`SO_RXQ_OVFL`, socket(7)): for a listener, at its sockets and its sessions' endpoint sockets; for an
    /// endpoint, at its sessions' sockets. Counted when the socket next receives a datagram.
    public let receiveBufferDrops = ManagedAtomic<Int>(0)

    /// - Parameter loops: slots per counter; defaults to one per core, as many as a PoP has flow loops.
    public init(loops: Int = System.coreCount) {
        self.active = LoopCounter(slots: loops)
        self.total = LoopCounter(slots: loops)
        self.bytesIn = LoopCounter(slots: loops)
        self.bytesOut = LoopCounter(slots: loops)
    }

    func opened(loop: Int) {
        self.active.add(1, loop: loop)
        self.total.add(1, loop: loop)
    }

    func closed(loop: Int) {
        self.active.add(-1, loop: loop)
    }
}

/// A counter with one slot per flow loop, each on a cache line of its own (128 bytes apart): a loop adds to its own
/// slot, so two cores never contend for one line; ``value`` sums the slots. A loop index past the slots shares a
/// slot with another loop, which stays correct (the adds are atomic), only slower.
public final class LoopCounter: @unchecked Sendable {
    private static let stride = 128
    private let slots: Int
    private let base: UnsafeMutableRawPointer

    init(slots: Int) {
        self.slots = max(slots, 1)
        self.base = .allocate(byteCount: self.slots * Self.stride, alignment: Self.stride)
        for slot in 0..<self.slots {
            (self.base + slot * Self.stride).initializeMemory(as: UnsafeAtomic<Int>.Storage.self, to: .init(0))
        }
    }

    deinit {
        self.base.deallocate()
    }

    private func slot(_ loop: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: (self.base + (loop % self.slots) * Self.stride).assumingMemoryBound(to: UnsafeAtomic<Int>.Storage.self))
    }

    /// Adds `value` (may be negative) in `loop`'s slot.
    func add(_ value: Int, loop: Int) {
        self.slot(loop).wrappingIncrement(by: value, ordering: .relaxed)
    }

    /// The sum over all slots now.
    public var value: Int {
        var sum = 0
        for loop in 0..<self.slots { sum &+= self.slot(loop).load(ordering: .relaxed) }
        return sum
    }
}
