import Foundation
import Testing

@testable import SlipstreamTestSupport

/// The API's own series on `/metrics`: requests counted by method and status, and their latency.
@Suite struct HTTPMetricsTests {
    @Test func requestsAreCountedByMethodAndStatusWithTheirLatency() async throws {
        try await TestServer().run { api in
            for _ in 0..<3 { _ = try await api.call(.get, "/v1/accelerators") }
            _ = try await api.call(.get, "/v1/accelerators/no-such-id")
            let metrics = try await api.call(.get, "/metrics", auth: .anonymous).text
            #expect(metrics.contains("# HELP slipstream_http_requests_total API requests by method and status."))
            #expect(metrics.contains("# TYPE slipstream_http_request_duration_seconds histogram"))
            #expect(metricSample(metrics, #"slipstream_http_requests_total{method="GET",status="200"}"#) == 3)
            #expect(metricSample(metrics, #"slipstream_http_requests_total{method="GET",status="404"}"#) == 1)
            // The scrape itself is counted once it is answered, so four requests are in the histogram.
            #expect(metricSample(metrics, "slipstream_http_request_duration_seconds_count") == 4)
            #expect(metricSample(metrics, #"slipstream_http_request_duration_seconds_bucket{le="+Inf"}"#) == 4)
        }
    }
}
