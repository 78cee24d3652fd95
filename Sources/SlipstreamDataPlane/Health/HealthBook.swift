import NIOConcurrencyHelpers
import SlipstreamModel

/// The health of every endpoint as the checker last saw it; read on every new flow.
public final class HealthBook: Sendable {
    private let states = NIOLockedValueBox<[String: HealthState]>([:])

    public init() {}

    /// Unknown endpoints are unmonitored.
    public func state(of endpointID: String) -> HealthState {
        self.states.withLockedValue { $0[endpointID] } ?? .noMonitor
    }

    public func set(_ state: HealthState, for endpointID: String) {
        self.states.withLockedValue { $0[endpointID] = state }
    }

    public func remove(_ endpointID: String) {
        self.states.withLockedValue { _ = $0.removeValue(forKey: endpointID) }
    }

    public var snapshot: [String: HealthState] { self.states.withLockedValue { $0 } }
}
