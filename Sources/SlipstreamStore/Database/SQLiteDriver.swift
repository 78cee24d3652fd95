import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// The embedded store: one SQLite file in WAL mode with full fsync, a writer connection and a reader connection.
///
/// Every write runs in `BEGIN IMMEDIATE … COMMIT`, so transactions from this process and from other processes on
/// the same file (such as `slipstream admin`) are serialised by SQLite itself; `busy_timeout` makes them wait
/// for each other instead of failing.
public final class SQLiteDriver: DatabaseDriver {
    private let writer: SQLiteConnection
    private let reader: SQLiteConnection
    private let writeLock = AsyncLock()
    private let readLock = AsyncLock()
    private let logger: Logger

    private init(writer: SQLiteConnection, reader: SQLiteConnection, logger: Logger) {
        self.writer = writer
        self.reader = reader
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    ///
    /// - Throws: SQLite's error when the file cannot be opened or a migration fails; nothing stays open then.
    public static func open(path: String, logger: Logger) async throws -> SQLiteDriver {
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let reader: SQLiteConnection
        do {
            reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            try? await writer.close()
            throw error
        }
        let driver = SQLiteDriver(writer: writer, reader: reader, logger: logger)
        do {
            for connection in [writer, reader] {
                let db = connection.sql(queryLogLevel: nil)
                try await db.raw("PRAGMA busy_timeout = 10000").run()
                try await db.raw("PRAGMA journal_mode = WAL").run()
                try await db.raw("PRAGMA synchronous = FULL").run()
                try await db.raw("PRAGMA foreign_keys = ON").run()
                // Reads of the file through a memory map instead of a read(2) per page: a reader's page cache starts
                // empty after every commit of the writer (WAL), so at thousands of resources most pages are read
                // again. Up to 256 MiB of address space; the pages are the kernel's file cache, shared.
                try await db.raw("PRAGMA mmap_size = 268435456").run()
                // 16 MiB of page cache per connection (the default is 2 MiB).
                try await db.raw("PRAGMA cache_size = -16384").run()
            }
            try await Migrations.run(on: driver)
        } catch {
            try? await driver.close()
            throw error
        }
        return driver
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await Self.transaction(on: self.writer, lock: self.writeLock, begin: "BEGIN IMMEDIATE", body)
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await Self.transaction(on: self.reader, lock: self.readLock, begin: "BEGIN", body)
    }

    /// Runs `body` between `begin` and `COMMIT` on `connection`, one transaction at a time; rolls back on error.
    private static func transaction<T: Sendable>(
        on connection: SQLiteConnection,
        lock: AsyncLock,
        begin: SQLQueryString,
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let db = connection.sql(queryLogLevel: nil)
        return try await lock.withLock {
            try await db.raw(begin).run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    public func close() async throws {
        try await self.writer.close()
        try await self.reader.close()
    }
}
