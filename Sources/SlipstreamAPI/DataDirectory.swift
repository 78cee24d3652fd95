import Foundation
import Logging
import SlipstreamControlPlane
import SlipstreamModel
import SlipstreamStore

/// The data directory: `slipstream.sqlite` (the store), `master.key` (unless `SLIPSTREAM_MASTER_KEY` is set) and,
/// after the first start, `credentials.json` with the first account.
public struct DataDirectory: Sendable {
    public static let databaseFile = "slipstream.sqlite"
    public static let masterKeyFile = "master.key"
    public static let credentialsFile = "credentials.json"

    /// The control plane's store on the SQLite file.
    public let store: SQLStore
    public let accounts: AccountStore
    /// Set when this call created the first account.
    public let firstAccount: AccountCredentials?

    /// Opens the directory, creating it, its key and its database as needed (the SQLite file, or the PostgreSQL
    /// database of ``SlipstreamConfiguration/databaseURL``). With `bootstrap`, an empty store gets a first account,
    /// written to `credentials.json`.
    ///
    /// - Throws: ``ConfigurationError`` for a database URL without `SLIPSTREAM_MASTER_KEY`, a bad key or URL; the
    ///   database's error when it cannot be opened.
    public static func open(configuration: SlipstreamConfiguration, logger: Logger, bootstrap: Bool = true) async throws -> DataDirectory {
        let directory = URL(fileURLWithPath: configuration.dataDirectory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Replicas of one database must seal and verify with one key, so it cannot be a file of one replica.
        if configuration.databaseURL != nil && configuration.masterKey == nil {
            throw ConfigurationError("SLIPSTREAM_MASTER_KEY is required with a database URL: every replica must share it")
        }
        let masterKey = try MasterKey(bytes: try self.masterKeyBytes(configuration: configuration, directory: directory))
        let database: any DatabaseDriver
        if let url = configuration.databaseURL {
            database = try await PostgresDriver.open(url: url, logger: logger)
        } else {
            database = try await SQLiteDriver.open(path: directory.appendingPathComponent(self.databaseFile).path, logger: logger)
        }
        let store = SQLStore(driver: database)
        let accounts = AccountStore(store: store, masterKey: masterKey)
        var first: AccountCredentials?
        if bootstrap, try await accounts.accountCount() == 0,
            let credentials = try await Self.createFirstAccount(accounts)
        {
            let data = try JSONEncoder.pretty.encode(credentials)
            try self.writePrivate(data, to: directory.appendingPathComponent(self.credentialsFile))
            first = credentials
        }
        return DataDirectory(store: store, accounts: accounts, firstAccount: first)
    }

    /// The first account, or nil when another replica of a shared database made it first: either the name check
    /// saw its account (IAM.0001), or both passed the check and the database's unique constraint refused this one.
    static func createFirstAccount(_ accounts: AccountStore) async throws -> AccountCredentials? {
        do {
            return try await accounts.createAccount(name: "slipstream")
        } catch let error as GAError where error.code == "IAM.0001" {
            return nil
        } catch {
            if try await accounts.store.read({ tx in try await tx.accountCount() }) > 0 { return nil }
            throw error
        }
    }

    static func masterKeyBytes(configuration: SlipstreamConfiguration, directory: URL) throws -> [UInt8] {
        if let encoded = configuration.masterKey {
            guard let data = Data(base64Encoded: encoded) else { throw ConfigurationError("SLIPSTREAM_MASTER_KEY is not base64") }
            return Array(data)
        }
        let file = directory.appendingPathComponent(self.masterKeyFile)
        if !FileManager.default.fileExists(atPath: file.path) {
            // Create exclusively: when a server and an admin command start together, one key wins and both read it.
            try? self.writePrivate(Data(MasterKey.generate().base64EncodedString().utf8), to: file, exclusive: true)
        }
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: text) else { throw ConfigurationError("\(self.masterKeyFile) is not base64") }
        return Array(data)
    }

    static func writePrivate(_ data: Data, to url: URL, exclusive: Bool = false) throws {
        let flags = O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC)
        let fd = Foundation.open(url.path, flags, 0o600)
        guard fd >= 0 else { throw ConfigurationError("cannot create \(url.lastPathComponent): errno \(errno)") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else { throw ConfigurationError("cannot write \(url.lastPathComponent)") }
    }
}

extension [UInt8] {
    func base64EncodedString() -> String { Data(self).base64EncodedString() }
}

extension JSONEncoder {
    static var pretty: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }
}
