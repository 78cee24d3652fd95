import NIOConcurrencyHelpers
import NIOCore

/// The open flows of each endpoint, so an endpoint that leaves the configuration (or drops to weight 0) can be
/// drained: no new flows, and after the drain timeout the remaining ones are closed.
final class FlowTracker: Sendable {
    private struct State {
        var flows: [String: [ObjectIdentifier: any Channel]] = [:]
        var count = 0
    }
    private let state = NIOLockedValueBox(State())

    /// Registers `channel` (the client side of a flow) under `endpointID` until it closes.
    func track(_ channel: any Channel, endpointID: String) {
        let key = ObjectIdentifier(channel)
        self.state.withLockedValue { state in
            state.flows[endpointID, default: [:]][key] = channel
            state.count += 1
        }
        channel.closeFuture.whenComplete { _ in
            self.state.withLockedValue { state in
                if state.flows[endpointID]?.removeValue(forKey: key) != nil { state.count -= 1 }
                if state.flows[endpointID]?.isEmpty == true { state.flows[endpointID] = nil }
            }
        }
    }

    /// Open flows in all.
    var count: Int { self.state.withLockedValue { $0.count } }

    /// Closes the flows `endpointID` has now if they are still open after `timeout`; flows that start later are
    /// not affected.
    func drain(endpointID: String, after timeout: TimeAmount, on loop: any EventLoop) {
        let channels = self.state.withLockedValue { Array($0.flows[endpointID, default: [:]].values) }
        guard !channels.isEmpty else { return }
        loop.scheduleTask(in: timeout) {
            for channel in channels { channel.close(promise: nil) }
        }
    }

    func closeAll(of endpointID: String? = nil) {
        let channels = self.state.withLockedValue { state in
            if let endpointID { return Array(state.flows[endpointID, default: [:]].values) }
            return state.flows.values.flatMap(\.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
