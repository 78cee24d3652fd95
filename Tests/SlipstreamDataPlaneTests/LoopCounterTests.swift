import Testing

@testable import SlipstreamDataPlane

/// Per-loop counters: each loop adds to its own slot and a read sums them; a loop index past the slots shares a slot
/// and still counts exactly.
struct LoopCounterTests {
    @Test func sumsEveryLoopsAddsFromConcurrentWriters() async {
        let counter = LoopCounter(slots: 2)
        // Three writers for two slots: loop 2 shares loop 0's slot.
        await withTaskGroup(of: Void.self) { group in
            for loop in 0..<3 {
                group.addTask {
                    for _ in 0..<10_000 { counter.add(3, loop: loop) }
                    for _ in 0..<2_000 { counter.add(-1, loop: loop) }
                }
            }
        }
        #expect(counter.value == 3 * (30_000 - 2_000))
    }

    @Test func flowStatsCountOpenAndClosedFlowsPerLoop() {
        let stats = FlowStats(loops: 2)
        stats.opened(loop: 0)
        stats.opened(loop: 1)
        stats.opened(loop: 1)
        stats.closed(loop: 1)
        stats.bytesIn.add(100, loop: 0)
        stats.bytesIn.add(23, loop: 1)
        #expect(stats.active.value == 2)
        #expect(stats.total.value == 3)
        #expect(stats.bytesIn.value == 123)
        #expect(stats.bytesOut.value == 0)
    }
}
