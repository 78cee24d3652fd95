import Atomics
import NIOConcurrencyHelpers
import NIOCore
import SlipstreamModel

extension ListenerPlan: AtomicReference {}

/// What every socket of one listener shares for as long as the listener exists: the current ``ListenerPlan``
/// (swapped atomically when the configuration or an endpoint's health changes), each flow loop's balancing state,
/// the listener's counters and its UDP session count.
public final class ListenerRuntime: Sendable {
    public let listenerID: String
    public let stats: FlowStats
    /// UDP sessions open on all of the listener's sockets.
    let udpSessions = ManagedAtomic<Int>(0)
    private let plan: ManagedAtomic<ListenerPlan>
    /// One per flow loop, each touched only by its loop.
    private let balancers: [LoopBalancer]

    /// - Parameter loops: the PoP's flow loops (``Forwarder/count``).
    init(plan: ListenerPlan, stats: FlowStats, loops: Int) {
        self.listenerID = plan.listenerID
        self.stats = stats
        self.plan = ManagedAtomic(plan)
        self.balancers = (0..<max(loops, 1)).map { _ in LoopBalancer() }
    }

    /// The plan flows use now.
    public var current: ListenerPlan { self.plan.load(ordering: .acquiring) }

    func update(_ plan: ListenerPlan) {
        self.plan.store(plan, ordering: .releasing)
    }

    /// The endpoints of `plan` (the flow's ``current`` plan, loaded once) a new flow from `client` should try,
    /// decided with the balancing state of the ``FlowLoop`` of `loopIndex`. Call it on that loop.
    func choose(in plan: ListenerPlan, client: IPAddress?, loopIndex: Int) -> [FlowTarget] {
        guard plan.isRoutable else { return [] }
        return plan.choose(client: client, state: self.balancers[loopIndex])
    }
}
