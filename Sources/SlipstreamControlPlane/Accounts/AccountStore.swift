import SlipstreamModel

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

    public init(domainID: String, domainName: String, userName: String) {
        self.domainID = domainID
        self.domainName = domainName
        self.userName = userName
    }
}

/// Accounts and their keys. Passwords are stored as salted PBKDF2 hashes; secret keys are sealed with the
/// master key (they must be recoverable to check signatures).
public struct AccountStore: Sendable {
    public let store: any ControlPlaneStore
    public let masterKey: MasterKey

    public init(store: any ControlPlaneStore, masterKey: MasterKey) {
        self.store = store
        self.masterKey = masterKey
    }

    /// Creates an account named `name` (domain name and user name) with one access key. Throws GA.9001 for a name
    /// that breaks the naming rule, IAM.0001 (409) when the name is taken.
    public func createAccount(name: String) async throws -> AccountCredentials {
        // The API's name rule: 1 to 64 characters, as `^[A-Za-z0-9\-\u4e00-\u9fa5]{1,64}$` states.
        if let reason = (1...64).contains(name.count) ? StringPattern.name.violation(in: name) : "length must be between 1 and 64" {
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
        let account = StoredAccount(
            caller: Caller(domainID: credentials.domainID, domainName: name, userName: name),
            passwordHash: PasswordHash.make(credentials.password)
        )
        let sealed = try self.masterKey.seal(credentials.secretKey)
        try await self.store.write { tx in
            try await tx.insertAccount(account, accessKey: credentials.accessKey, sealedSecret: sealed, createdAt: Timestamp.now())
        }
        return credentials
    }

    public func accountCount() async throws -> Int {
        try await self.store.read { tx in try await tx.accountCount() }
    }

    /// The secret key and owner of an access key, or nil.
    public func secret(forAccessKey accessKey: String) async throws -> (secret: String, caller: Caller)? {
        guard let found = try await self.store.read({ tx in try await tx.accessKey(accessKey) }) else { return nil }
        return (try self.masterKey.open(found.sealedSecret), found.account.caller)
    }

    /// The account whose user `userName` in domain `domainName` has `password`, or nil.
    public func authenticate(domainName: String, userName: String, password: String) async throws -> Caller? {
        let account = try await self.store.read { tx in try await tx.account(domainName: domainName, userName: userName) }
        guard let account, PasswordHash.verify(password, against: account.passwordHash) else { return nil }
        return account.caller
    }

    public func caller(domainID: String) async throws -> Caller? {
        try await self.store.read { tx in try await tx.account(domainID: domainID) }?.caller
    }
}
