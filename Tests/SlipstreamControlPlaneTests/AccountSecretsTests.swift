import Foundation
import SlipstreamModel
import Testing

@testable import SlipstreamControlPlane

@Suite struct PasswordHashTests {
    @Test func passwords() {
        let hash = PasswordHash.make("s3cret", iterations: 1000)
        #expect(PasswordHash.verify("s3cret", against: hash))
        #expect(!PasswordHash.verify("s3cret!", against: hash))
        #expect(!hash.contains("s3cret"))
    }

    @Test func pbkdf2MatchesRFC7914Vector() throws {
        // PBKDF2-HMAC-SHA256("passwd", "salt", 1 iteration, 64 bytes) from RFC 7914, section 11; its first 32 bytes.
        let derived = try PasswordHash.derive("passwd", salt: Array("salt".utf8), iterations: 1)
        #expect(derived.withUnsafeBytes { Hex.encode($0) } == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
    }

    @Test func hashesStoredBeforeTheLibraryStillVerify() {
        // The format existing data directories hold: 50,000 iterations, salt "slipstream-salt!", the hash computed
        // independently (Python's hashlib.pbkdf2_hmac).
        let stored = "pbkdf2-sha256$50000$c2xpcHN0cmVhbS1zYWx0IQ==$0o3XIO2jMKzWg+HEt7nr15/oKg73oy8RP/eFrIleM5M="
        #expect(PasswordHash.verify("s3cret", against: stored))
        #expect(!PasswordHash.verify("s3cret ", against: stored))
    }

    @Test func malformedHashesVerifyNothing() {
        for stored in ["", "pbkdf2-sha256$0$AA==$AA==", "pbkdf2-sha256$x$AA==$AA==", "md5$1$AA==$AA==", "pbkdf2-sha256$1$AA==$AA=="] {
            #expect(!PasswordHash.verify("", against: stored))
        }
    }

    @Test func sealedSecretsOpenOnlyWithTheirKey() throws {
        let key = try MasterKey(bytes: MasterKey.generate())
        let other = try MasterKey(bytes: MasterKey.generate())
        let sealed = try key.seal("SK")
        #expect(try key.open(sealed) == "SK")
        #expect(throws: (any Error).self) { try other.open(sealed) }
        #expect(throws: ConfigurationError.self) { try MasterKey(bytes: [1, 2, 3]) }
    }
}
