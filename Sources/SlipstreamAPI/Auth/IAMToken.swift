import Crypto
import Foundation
import SlipstreamModel

/// Self-contained IAM tokens: `slp1.<base64url(claims)>.<base64url(HMAC-SHA256)>`.
///
/// A token is checked with the signing key alone, so any replica holding the master key can verify it without
/// server-local state.
public struct IAMToken: Sendable, Equatable, Codable {
    public var domainID: String
    public var userName: String
    public var issuedAt: Int64
    public var expiresAt: Int64

    enum CodingKeys: String, CodingKey {
        case domainID = "d"
        case userName = "u"
        case issuedAt = "iat"
        case expiresAt = "exp"
    }

    public init(domainID: String, userName: String, issuedAt: Int64, expiresAt: Int64) {
        self.domainID = domainID
        self.userName = userName
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    public func encode(key: SymmetricKey) throws -> String {
        let claims = try JSONEncoder().encode(self)
        let payload = "slp1." + Self.base64URL(claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key)
        return payload + "." + Self.base64URL(Data(mac))
    }

    /// Verifies the signature and expiry; the error says why a token is refused.
    public static func verify(_ token: String, key: SymmetricKey, now: Date = Date()) throws(GAError) -> IAMToken {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        // Only the canonical encoding is accepted: base64url's last character carries spare bits, so without this
        // check several spellings of one token would all verify.
        guard parts.count == 3, parts[0] == "slp1", let mac = self.base64URLDecode(String(parts[2])),
            self.base64URL(mac) == parts[2],
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data("\(parts[0]).\(parts[1])".utf8), using: key),
            let claimsData = self.base64URLDecode(String(parts[1])),
            self.base64URL(claimsData) == parts[1],
            let claims = try? JSONDecoder().decode(IAMToken.self, from: claimsData)
        else { throw GAError.unauthorized("x-auth-token is invalid") }
        if Double(claims.expiresAt) <= now.timeIntervalSince1970 {
            let expiry = Timestamp.string(Date(timeIntervalSince1970: Double(claims.expiresAt)))
            throw GAError.unauthorized("token expires, expires_at: \(expiry)")
        }
        return claims
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ string: String) -> Data? {
        var base64 = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
