import Testing

@testable import SlipstreamControlPlane

@Suite struct ApplyRetryBackoffTests {
    @Test func doublesToThirtySecondsAndResets() {
        var backoff = ApplyRetryBackoff()
        let start = ContinuousClock.now
        #expect(backoff.allowsRetry(at: start))
        var now = start
        var waits: [Duration] = []
        for _ in 0..<7 {
            backoff.failed(at: now)
            let next = backoff.notBefore!
            waits.append(next - now)
            #expect(!backoff.allowsRetry(at: next - .milliseconds(1)))
            #expect(backoff.allowsRetry(at: next))
            now = next
        }
        #expect(waits == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
        backoff.reset()
        #expect(backoff.allowsRetry(at: now))
        backoff.failed(at: now)
        #expect(backoff.notBefore! - now == .seconds(1))
    }
}
