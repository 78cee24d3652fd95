import Crypto
import Foundation
import SlipstreamModel
import _CryptoExtras

/// Salted, iterated password hashes (PBKDF2-HMAC-SHA256, RFC 8018, through swift-crypto's `_CryptoExtras`), stored as
/// `pbkdf2-sha256$iterations$salt$hash` with base64 salt and hash. The iteration count is stored with each hash, so
/// hashes made with another count stay valid.
public enum PasswordHash {
    public static let defaultIterations = 50_000

    public static func make(_ password: String, iterations: Int = defaultIterations) -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var random = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = random.next() }
        // A derivation fails only for an output length or round count BoringSSL refuses; both are fixed here.
        let hash = try! self.derive(password, salt: salt, iterations: iterations)
        return "pbkdf2-sha256$\(iterations)$\(Data(salt).base64EncodedString())$\(hash.withUnsafeBytes { Data($0).base64EncodedString() })"
    }

    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let iterations = Int(parts[1]), iterations > 0,
            let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3])), expected.count == 32,
            let actual = try? self.derive(password, salt: Array(salt), iterations: iterations)
        else { return false }
        // SymmetricKey compares in constant time.
        return actual == SymmetricKey(data: expected)
    }

    /// 32 bytes of PBKDF2-HMAC-SHA256. The iteration count is the caller's (stored hashes carry theirs), hence the
    /// unchecked variant; new hashes use ``defaultIterations``.
    static func derive(_ password: String, salt: [UInt8], iterations: Int) throws -> SymmetricKey {
        try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8),
            salt: salt,
            using: .sha256,
            outputByteCount: 32,
            unsafeUncheckedRounds: iterations
        )
    }
}

/// The server's master key and what is derived from it: encryption of secret keys at rest and the
/// signing key of IAM tokens. Every replica that shares the key can verify every token.
public struct MasterKey: Sendable {
    private let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(ConfigurationError) {
        guard bytes.count == 32 else { throw ConfigurationError("the master key must be 32 bytes") }
        self.bytes = bytes
    }

    public static func generate() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    private func derived(_ purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: self.bytes), info: Data(purpose.utf8), outputByteCount: 32)
    }

    /// Encrypts a secret for storage (AES-GCM, base64 of nonce + ciphertext + tag).
    public func seal(_ secret: String) throws -> String {
        let box = try AES.GCM.seal(Data(secret.utf8), using: self.derived("slipstream secret keys"))
        return box.combined!.base64EncodedString()
    }

    public func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw ConfigurationError("sealed secret is not base64") }
        let box = try AES.GCM.SealedBox(combined: data)
        return String(decoding: try AES.GCM.open(box, using: self.derived("slipstream secret keys")), as: UTF8.self)
    }

    /// The key IAM tokens are signed with.
    public var tokenKey: SymmetricKey { self.derived("slipstream iam tokens") }
}

/// Random identifiers and secrets for new accounts.
public enum SecretGenerator {
    public static let upper = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    public static let mixed = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    public static func string(length: Int, alphabet: [Character] = mixed) -> String {
        var random = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(random.next(upperBound: UInt64(alphabet.count)))] })
    }

    /// A 32-character lowercase hex id, the shape of Huawei domain ids.
    public static func domainID() -> String {
        var random = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    public static func accessKey() -> String { self.string(length: 20, alphabet: self.upper) }
    public static func secretKey() -> String { self.string(length: 40) }
    public static func password() -> String { self.string(length: 24) }
}
