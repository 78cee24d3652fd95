import SlipstreamModel

/// The verdict of one endpoint's health checks: `INITIAL` until `threshold` consecutive probes agree, then
/// `HEALTHY` or `UNHEALTHY`, flipping only after `threshold` consecutive probes say otherwise.
public struct HealthStateMachine: Sendable, Equatable {
    public private(set) var state: HealthState = .initial
    public let threshold: Int
    private var streakIsSuccess = false
    private var streak = 0

    public init(threshold: Int) {
        self.threshold = max(1, threshold)
    }

    /// Records one probe result; returns the new state when it changed.
    public mutating func record(success: Bool) -> HealthState? {
        if self.streak > 0 && self.streakIsSuccess == success {
            self.streak += 1
        } else {
            self.streakIsSuccess = success
            self.streak = 1
        }
        let verdict: HealthState = success ? .healthy : .unhealthy
        guard self.streak >= self.threshold, verdict != self.state else { return nil }
        self.state = verdict
        return verdict
    }
}
