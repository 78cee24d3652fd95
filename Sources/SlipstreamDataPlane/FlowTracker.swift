import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// The open TCP flows of each endpoint, so an endpoint that leaves the configuration (or drops to weight 0) can be
/// drained: no new flows, and after the drain timeout the remaining ones are closed.
///
/// Each event loop keeps the flows of its own channels, touched only on that loop, so tracking a flow takes no
/// lock; draining and shutdown visit every loop.
final class FlowTracker: Sendable {
    /// The flows of one event loop, keyed by endpoint id.
    private final class LoopFlows: @unchecked Sendable {
        var flows: [String: [ObjectIdentifier: any Channel]] = [:]
    }

    private let loops: EventLoopIndex
    private let perLoop: [LoopFlows]
    /// Channels on loops outside `loops` (tests on other groups).
    private let other = NIOLockedValueBox(LoopFlows())
    private let open = ManagedAtomic<Int>(0)

    init(loops: EventLoopIndex) {
        self.loops = loops
        self.perLoop = (0..<loops.count).map { _ in LoopFlows() }
    }

    /// Registers `channel` (the client side of a flow) under `endpointID`; ``untrack(_:endpointID:)`` takes it out
    /// when it closes. Call both on the channel's event loop.
    func track(_ channel: any Channel, endpointID: String) {
        self.open.wrappingIncrement(ordering: .relaxed)
        self.withFlows(of: channel.eventLoop) { $0.flows[endpointID, default: [:]][ObjectIdentifier(channel)] = channel }
    }

    func untrack(_ channel: any Channel, endpointID: String) {
        self.open.wrappingDecrement(ordering: .relaxed)
        self.withFlows(of: channel.eventLoop) { loop in
            loop.flows[endpointID]?.removeValue(forKey: ObjectIdentifier(channel))
            if loop.flows[endpointID]?.isEmpty == true { loop.flows[endpointID] = nil }
        }
    }

    /// Open flows in all.
    var count: Int { self.open.load(ordering: .relaxed) }

    /// Closes the flows `endpointID` has now if they are still open after `timeout`; flows that start later are
    /// not affected.
    func drain(endpointID: String, after timeout: TimeAmount) {
        self.forEachLoop { loop, flows in
            let channels = Array(flows.flows[endpointID, default: [:]].values)
            guard !channels.isEmpty else { return }
            loop.scheduleTask(in: timeout) {
                for channel in channels { channel.close(promise: nil) }
            }
        }
    }

    /// Closes every open flow (of `endpointID` only, when given).
    func closeAll(of endpointID: String? = nil) {
        self.forEachLoop { _, flows in
            let channels = endpointID.map { Array(flows.flows[$0, default: [:]].values) } ?? flows.flows.values.flatMap(\.values)
            for channel in channels { channel.close(promise: nil) }
        }
    }

    private func withFlows(of loop: any EventLoop, _ body: (LoopFlows) -> Void) {
        if let index = self.loops.index(of: loop) {
            body(self.perLoop[index])
        } else {
            self.other.withLockedValue { body($0) }
        }
    }

    private func forEachLoop(_ body: @escaping @Sendable (any EventLoop, LoopFlows) -> Void) {
        for (index, loop) in self.loops.loops.enumerated() {
            let flows = self.perLoop[index]
            loop.execute { body(loop, flows) }
        }
        self.other.withLockedValue { flows in
            if let loop = flows.flows.values.first?.values.first?.eventLoop { body(loop, flows) }
        }
    }
}
