import Prometheus

/// The API's part of `/metrics`: requests by method and status, and their latency, kept in a swift-prometheus registry,
/// which also writes their Prometheus text.
final class HTTPMetrics: Sendable {
    /// `slipstream_http_requests_total` (computed: the library's descriptor is not `Sendable`).
    static var requests: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "slipstream",
            subsystem: "http",
            metricName: "requests",
            unitName: "total",
            helpText: "API requests by method and status."
        )
    }
    /// `slipstream_http_request_duration_seconds`.
    static var latency: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "slipstream",
            subsystem: "http",
            metricName: "request_duration",
            unitName: "seconds",
            helpText: "API request latency."
        )
    }
    /// Upper bounds of the latency histogram's buckets.
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
    ]

    private let registry = PrometheusCollectorRegistry()
    private let latency: DurationHistogram

    init() {
        self.latency = self.registry.makeDurationHistogram(descriptor: Self.latency, buckets: Self.latencyBuckets)
    }

    /// Counts one answered request that took `elapsed`.
    func record(method: String, status: Int, elapsed: Duration) {
        self.registry.makeCounter(descriptor: Self.requests, labels: [("method", method), ("status", String(status))]).increment()
        self.latency.record(elapsed)
    }

    /// The Prometheus text exposition of these metrics.
    func render() -> String {
        self.registry.emitToString()
    }
}
