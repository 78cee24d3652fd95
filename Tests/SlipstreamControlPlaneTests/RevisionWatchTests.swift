import Testing

@testable import SlipstreamControlPlane

/// The revision watch that long polls of remote PoPs wait on.
@Suite struct RevisionWatchTests {
    @Test func aPublishThatMovesTheRevisionWakesEveryWaiter() async {
        let watch = RevisionWatch()
        watch.publish(7)
        let started = ContinuousClock.now
        await withTaskGroup(of: Int64.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    await watch.wait(whileAt: 7, timeout: .seconds(60))
                    return watch.latest
                }
            }
            // A publish that does not move the revision wakes nobody; the one that does wakes all 50.
            watch.publish(6)
            watch.publish(7)
            try? await Task.sleep(for: .milliseconds(20))
            watch.publish(8)
            var seen: [Int64] = []
            for await revision in group { seen.append(revision) }
            #expect(seen == Array(repeating: 8, count: 50))
        }
        // Far from the 60 s timeout: the waiters were resumed, not timed out.
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func aWaitOnAnOlderRevisionReturnsAtOnceAndAQuietOneTimesOut() async {
        let watch = RevisionWatch()
        watch.publish(3)
        await watch.wait(whileAt: 2, timeout: .seconds(60))
        let started = ContinuousClock.now
        await watch.wait(whileAt: 3, timeout: .milliseconds(100))
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        #expect(watch.latest == 3)
    }

    @Test func aCancelledWaitReturnsAndLeavesNoWaiterBehind() async {
        let watch = RevisionWatch()
        let waiter = Task { await watch.wait(whileAt: 0, timeout: .seconds(60)) }
        try? await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await waiter.value
        #expect(watch.waiting == 0)
    }
}
