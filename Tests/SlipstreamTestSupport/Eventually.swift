/// The test suites' one poller: tests wait for a state, never for a fixed time.
///
/// Evaluates `probe` every `interval` until it returns a value or `timeout` has passed, and returns that value, or
/// nil at the deadline. `probe` runs at least once.
func poll<T>(
    timeout: Duration = .seconds(5),
    every interval: Duration = .milliseconds(20),
    _ probe: () async throws -> T?
) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await probe() { return value }
        if ContinuousClock.now >= deadline { return nil }
        try await Task.sleep(for: interval)
    }
}

/// Whether `condition` holds within `timeout`, checked every `interval` (see ``poll(timeout:every:_:)``).
func eventually(
    timeout: Duration = .seconds(5),
    every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    try await poll(timeout: timeout, every: interval) { try await condition() ? true : nil } ?? false
}
