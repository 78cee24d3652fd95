import Foundation
import SQLKit
import SlipstreamCore

/// A new account's credentials, shown once to whoever created it.
public struct AccountCredentials: Codable, Sendable, Equatable {
    public var domainID: String
    public var domainName: String
    public var userName: String
    public var password: String
    public var accessKey: String
    public var secretKey: String

    enum CodingKeys: String, CodingKey {
        case domainID = "domain_id"
        case domainName = "domain_name"
        case userName = "user_name"
        case password
        case accessKey = "access_key"
        case secretKey = "secret_key"
    }
}

/// An authenticated caller.
public struct Caller: Sendable, Equatable {
    public var domainID: String
    public var domainName: String
    public var userName: String
}

/// Accounts and their keys. Passwords are stored as salted PBKDF2 hashes; secret keys are sealed with the
/// master key (they must be recoverable to check signatures).
public struct AccountStore: Sendable {
    public let database: any DatabaseDriver
    public let masterKey: MasterKey

    public init(database: any DatabaseDriver, masterKey: MasterKey) {
        self.database = database
        self.masterKey = masterKey
    }

    /// Creates an account named `name` (domain name and user name) with one access key.
    public func createAccount(name: String) async throws -> AccountCredentials {
        if let reason = StringPattern.name.violation(in: name) ?? (name.count > 64 ? "is longer than 64 characters" : nil) {
            throw GAError.invalid("name", reason)
        }
        let credentials = AccountCredentials(
            domainID: SecretGenerator.domainID(),
            domainName: name,
            userName: name,
            password: SecretGenerator.password(),
            accessKey: SecretGenerator.accessKey(),
            secretKey: SecretGenerator.secretKey()
        )
        let passwordHash = PasswordHash.make(credentials.password)
        let sealed = try self.masterKey.seal(credentials.secretKey)
        try await self.database.write { db in
            let now = Timestamp.now()
            if try await db.raw("SELECT domain_id FROM accounts WHERE domain_name = \(bind: name)").first() != nil {
                throw GAError(status: 409, code: "IAM.0001", message: "account \(name) already exists")
            }
            try await db.raw(
                """
                INSERT INTO accounts (domain_id, domain_name, user_name, password_hash, created_at)
                VALUES (\(bind: credentials.domainID), \(bind: name), \(bind: name), \(bind: passwordHash), \(bind: now))
                """
            ).run()
            try await db.raw(
                """
                INSERT INTO access_keys (access_key, domain_id, secret_sealed, created_at)
                VALUES (\(bind: credentials.accessKey), \(bind: credentials.domainID), \(bind: sealed), \(bind: now))
                """
            ).run()
        }
        return credentials
    }

    public func accountCount() async throws -> Int {
        try await self.database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM accounts").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// The secret key and owner of an access key, or nil.
    public func secret(forAccessKey accessKey: String) async throws -> (secret: String, caller: Caller)? {
        let row = try await self.database.read { db in
            try await db.raw(
                """
                SELECT k.secret_sealed, a.domain_id, a.domain_name, a.user_name FROM access_keys k
                JOIN accounts a ON a.domain_id = k.domain_id WHERE k.access_key = \(bind: accessKey)
                """
            ).first()
        }
        guard let row else { return nil }
        let secret = try self.masterKey.open(try row.decode(column: "secret_sealed", as: String.self))
        return (secret, try Self.caller(row))
    }

    /// The account whose user `userName` in domain `domainName` has `password`, or nil.
    public func authenticate(domainName: String, userName: String, password: String) async throws -> Caller? {
        let row = try await self.database.read { db in
            try await db.raw(
                "SELECT domain_id, domain_name, user_name, password_hash FROM accounts WHERE domain_name = \(bind: domainName) AND user_name = \(bind: userName)"
            ).first()
        }
        guard let row, PasswordHash.verify(password, against: try row.decode(column: "password_hash", as: String.self)) else {
            return nil
        }
        return try Self.caller(row)
    }

    public func caller(domainID: String) async throws -> Caller? {
        let row = try await self.database.read { db in
            try await db.raw("SELECT domain_id, domain_name, user_name FROM accounts WHERE domain_id = \(bind: domainID)").first()
        }
        return try row.map(Self.caller)
    }

    static func caller(_ row: any SQLRow) throws -> Caller {
        Caller(
            domainID: try row.decode(column: "domain_id", as: String.self),
            domainName: try row.decode(column: "domain_name", as: String.self),
            userName: try row.decode(column: "user_name", as: String.self)
        )
    }
}
