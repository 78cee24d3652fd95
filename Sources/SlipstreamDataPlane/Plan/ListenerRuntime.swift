import Atomics
import NIOConcurrencyHelpers
import NIOCore
import SlipstreamModel

extension ListenerPlan: AtomicReference {}

/// What every socket of one listener shares for as long as the listener exists: the current ``ListenerPlan``
/// (swapped atomically when the configuration or an endpoint's health changes), each event loop's balancing state,
/// the listener's counters and its UDP session count.
public final class ListenerRuntime: Sendable {
    public let listenerID: String
    public let stats: FlowStats
    /// UDP sessions open on all of the listener's sockets.
    let udpSessions = ManagedAtomic<Int>(0)
    private let plan: ManagedAtomic<ListenerPlan>
    private let loops: EventLoopIndex
    private let balancers: [LoopBalancer]
    /// For event loops outside `loops` (tests on other groups); the only locked path.
    private let otherLoops = NIOLockedValueBox(LoopBalancer())

    init(plan: ListenerPlan, stats: FlowStats, loops: EventLoopIndex) {
        self.listenerID = plan.listenerID
        self.stats = stats
        self.plan = ManagedAtomic(plan)
        self.loops = loops
        self.balancers = (0..<loops.count).map { _ in LoopBalancer() }
    }

    /// The plan flows use now.
    public var current: ListenerPlan { self.plan.load(ordering: .acquiring) }

    func update(_ plan: ListenerPlan) {
        self.plan.store(plan, ordering: .releasing)
    }

    /// The endpoints of `plan` (the flow's ``current`` plan, loaded once) a new flow from `client` should try,
    /// decided with `loop`'s balancing state. Call it on `loop`.
    func choose(in plan: ListenerPlan, client: IPAddress?, on loop: any EventLoop) -> [FlowTarget] {
        guard plan.isRoutable else { return [] }
        if let index = self.loops.index(of: loop) {
            return plan.choose(client: client, state: self.balancers[index])
        }
        return self.otherLoops.withLockedValue { plan.choose(client: client, state: $0) }
    }

    /// As ``choose(in:client:on:)``, for the TCP ``FlowLoop`` of `loopIndex`. A listener is either TCP or UDP, so
    /// the flow loops of a TCP listener and the event loops of a UDP one never share a balancing state.
    func choose(in plan: ListenerPlan, client: IPAddress?, loopIndex: Int) -> [FlowTarget] {
        guard plan.isRoutable else { return [] }
        guard loopIndex < self.balancers.count else {
            return self.otherLoops.withLockedValue { plan.choose(client: client, state: $0) }
        }
        return plan.choose(client: client, state: self.balancers[loopIndex])
    }
}

extension IPAddress {
    /// The address of a socket address, without going through text; nil for Unix sockets.
    init?(_ address: SocketAddress?) {
        switch address {
        case .v4(let v4):
            self = .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            var value: UInt128 = 0
            withUnsafeBytes(of: v6.address.sin6_addr) { bytes in
                for byte in bytes { value = value << 8 | UInt128(byte) }
            }
            self = .v6(value)
        default:
            return nil
        }
    }
}
