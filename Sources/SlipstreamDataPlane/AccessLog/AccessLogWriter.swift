import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import SlipstreamModel

/// Where a listener's access log goes (from its logtank).
public struct LogSink: Sendable, Hashable {
    public var group: String
    public var stream: String

    public init(group: String, stream: String) {
        self.group = group
        self.stream = stream
    }
}

/// One finished flow.
public struct AccessLogRecord: Encodable, Sendable {
    public var time: String
    public var listenerID: String
    public var `protocol`: ListenerProtocol
    public var clientAddress: String
    public var clientPort: Int
    public var acceleratorAddress: String
    public var acceleratorPort: Int
    public var endpointID: String?
    public var endpointAddress: String?
    public var bytesIn: Int
    public var bytesOut: Int
    public var durationMs: Int
    /// `closed`, `idle_timeout`, `shutdown`, `connect_failed`, `no_endpoint` or `denied`.
    public var end: String
}

/// Writes access-log records as JSON lines to `<directory>/<group>/<stream>.log`, rotating a file to `.1`, `.2`, …
/// when it would grow past `maxFileBytes` and keeping `keepFiles` old files.
///
/// The forwarding path only appends to a bounded in-memory buffer under a lock; a background loop writes the
/// buffer out on a thread pool every 200 ms, so file I/O never runs on an event loop. When the buffer is full,
/// records are dropped and counted.
public final class AccessLogWriter: Sendable {
    public let directory: String
    public let maxFileBytes: Int
    public let keepFiles: Int
    public static let maxBuffered = 10_000

    private let buffer = NIOLockedValueBox<[(LogSink, AccessLogRecord)]>([])
    private let droppedCount = NIOLockedValueBox(0)
    private let logger: Logger

    public init(directory: String, maxFileBytes: Int = 10 << 20, keepFiles: Int = 5, logger: Logger) {
        self.directory = directory
        self.maxFileBytes = maxFileBytes
        self.keepFiles = keepFiles
        self.logger = logger
    }

    /// Records dropped because the buffer was full.
    public var dropped: Int { self.droppedCount.withLockedValue { $0 } }

    public func record(_ record: AccessLogRecord, to sink: LogSink) {
        let accepted = self.buffer.withLockedValue { buffer in
            guard buffer.count < Self.maxBuffered else { return false }
            buffer.append((sink, record))
            return true
        }
        if !accepted { self.droppedCount.withLockedValue { $0 += 1 } }
    }

    /// Writes the buffer out every 200 ms until cancelled, then once more.
    public func run() async {
        while (try? await Task.sleep(for: .milliseconds(200))) != nil {
            await self.flush()
        }
        await self.flush()
    }

    /// Writes everything buffered so far.
    public func flush() async {
        let pending = self.buffer.withLockedValue { buffer in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        guard !pending.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines: [LogSink: [Data]] = [:]
        for (sink, record) in pending {
            guard var line = try? encoder.encode(record) else { continue }
            line.append(UInt8(ascii: "\n"))
            lines[sink, default: []].append(line)
        }
        let batches = lines
        do {
            try await NIOThreadPool.singleton.runIfActive {
                for (sink, lines) in batches { try self.append(lines, to: sink) }
            }
        } catch {
            self.logger.error("access log write failed", metadata: ["error": "\(error)"])
        }
    }

    public func path(of sink: LogSink) -> String {
        "\(self.directory)/\(sink.group)/\(sink.stream).log"
    }

    /// Appends whole lines, rotating first whenever the next line would take a non-empty file past the limit.
    private func append(_ lines: [Data], to sink: LogSink) throws {
        let path = self.path(of: sink)
        let manager = FileManager.default
        try manager.createDirectory(atPath: "\(self.directory)/\(sink.group)", withIntermediateDirectories: true)
        var size = (try? manager.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        var chunk = Data()
        for line in lines {
            if size > 0 && size + line.count > self.maxFileBytes {
                try self.write(chunk, to: path)
                chunk.removeAll()
                try self.rotate(path)
                size = 0
            }
            chunk.append(line)
            size += line.count
        }
        try self.write(chunk, to: path)
    }

    private func write(_ data: Data, to path: String) throws {
        guard !data.isEmpty else { return }
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
    }

    private func rotate(_ path: String) throws {
        let manager = FileManager.default
        try? manager.removeItem(atPath: "\(path).\(self.keepFiles)")
        for index in stride(from: self.keepFiles - 1, through: 1, by: -1) where manager.fileExists(atPath: "\(path).\(index)") {
            try manager.moveItem(atPath: "\(path).\(index)", toPath: "\(path).\(index + 1)")
        }
        try manager.moveItem(atPath: path, toPath: "\(path).1")
    }
}
