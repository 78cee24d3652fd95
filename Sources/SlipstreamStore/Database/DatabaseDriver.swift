import SQLKit

/// The narrow interface between the store's SQL and its database. The SQLite driver is the embedded default; the
/// PostgreSQL driver implements the same calls, and everything above them is plain SQLKit.
public protocol DatabaseDriver: Sendable {
    /// Runs `body` in one write transaction: committed if it returns, rolled back if it throws.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// Runs `body` against a consistent read view.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func close() async throws
    /// A statement run first in every migration transaction so that processes starting together migrate one at a
    /// time (PostgreSQL: an advisory lock); nil where the database serialises writers itself (SQLite).
    var migrationLock: SQLQueryString? { get }
}

extension DatabaseDriver {
    public var migrationLock: SQLQueryString? { nil }
}

/// Serialises async critical sections (an async mutex) so one connection never runs two transactions at once.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !self.locked {
            self.locked = true
            return
        }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    func unlock() {
        if self.waiters.isEmpty {
            self.locked = false
        } else {
            self.waiters.removeFirst().resume()
        }
    }

    func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await self.lock()
        do {
            let result = try await body()
            self.unlock()
            return result
        } catch {
            self.unlock()
            throw error
        }
    }
}
