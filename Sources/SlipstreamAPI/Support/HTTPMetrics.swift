import Synchronization

/// The API's part of `/metrics`: requests by method and status, and their latency, in the Prometheus text format.
final class HTTPMetrics: Sendable {
    private struct State {
        var requests: [String: Int] = [:]
        var durationBuckets: [Int] = Array(repeating: 0, count: HTTPMetrics.durationBuckets.count)
        var durationSum = 0.0
        var durationCount = 0
    }

    /// Upper bounds of the latency histogram's buckets, in seconds.
    static let durationBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    private let state = Mutex(State())

    /// Counts one answered request that took `seconds`.
    func record(method: String, status: Int, seconds: Double) {
        self.state.withLock { state in
            state.requests["method=\"\(method)\",status=\"\(status)\"", default: 0] += 1
            for (index, bound) in Self.durationBuckets.enumerated() where seconds <= bound {
                state.durationBuckets[index] += 1
            }
            state.durationSum += seconds
            state.durationCount += 1
        }
    }

    func render() -> String {
        let state = self.state.withLock { $0 }
        var out = "# HELP slipstream_http_requests_total API requests by method and status.\n"
        out += "# TYPE slipstream_http_requests_total counter\n"
        for (labels, count) in state.requests.sorted(by: { $0.key < $1.key }) {
            out += "slipstream_http_requests_total{\(labels)} \(count)\n"
        }
        out += "# HELP slipstream_http_request_duration_seconds API request latency.\n"
        out += "# TYPE slipstream_http_request_duration_seconds histogram\n"
        for (index, bound) in Self.durationBuckets.enumerated() {
            out += "slipstream_http_request_duration_seconds_bucket{le=\"\(bound)\"} \(state.durationBuckets[index])\n"
        }
        out += "slipstream_http_request_duration_seconds_bucket{le=\"+Inf\"} \(state.durationCount)\n"
        out += "slipstream_http_request_duration_seconds_sum \(state.durationSum)\n"
        out += "slipstream_http_request_duration_seconds_count \(state.durationCount)\n"
        return out
    }
}
