import Foundation
import SlipstreamModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The last snapshot a remote PoP applied, kept in its state directory as `snapshot.json`, so that at start it
/// serves that configuration before it has reached any control plane (static stability).
///
/// A save writes `snapshot.json.tmp`, fsyncs it, renames it over `snapshot.json` and fsyncs the directory: after
/// a crash at any point the file holds either the old snapshot or the new one, whole.
public struct SnapshotFile: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var path: String { self.directory + "/snapshot.json" }

    /// Creates the directory if it is missing and proves it writable by writing, fsyncing and removing a probe
    /// file: a PoP that could not save what it applies would lose its configuration on the next restart without
    /// a control plane. Throws `SnapshotFileError` naming the failed call, or Foundation's error when the
    /// directory cannot be created.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let probe = self.directory + "/.write-probe"
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SnapshotFileError(call: "open \(probe)", errno: errno) }
        let synced = write(fd, "ok", 2) == 2 && fsync(fd) == 0
        let failed = errno
        close(fd)
        unlink(probe)
        guard synced else { throw SnapshotFileError(call: "write \(probe)", errno: failed) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: self.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw SnapshotFileError(call: "open \(self.path)", errno: EISDIR)
        }
    }

    /// The saved snapshot's JSON, or nil when none was saved.
    public func load() throws -> Data? {
        guard FileManager.default.fileExists(atPath: self.path) else { return nil }
        return try Data(contentsOf: URL(fileURLWithPath: self.path))
    }

    /// Replaces the saved snapshot with `json`, durably. Throws `SnapshotFileError` naming the failed call.
    public func save(_ json: Data) throws {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let temporary = self.path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SnapshotFileError(call: "open \(temporary)", errno: errno) }
        var written = 0
        let failure: SnapshotFileError? = json.withUnsafeBytes { bytes in
            while written < bytes.count {
                let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return SnapshotFileError(call: "write \(temporary)", errno: errno)
                }
                written += n
            }
            return fsync(fd) == 0 ? nil : SnapshotFileError(call: "fsync \(temporary)", errno: errno)
        }
        close(fd)
        if let failure { throw failure }
        guard rename(temporary, self.path) == 0 else { throw SnapshotFileError(call: "rename \(temporary)", errno: errno) }
        let directory = open(self.directory, O_RDONLY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
    }
}

public struct SnapshotFileError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public var description: String { "\(self.call): \(String(cString: strerror(self.errno)))" }
}
