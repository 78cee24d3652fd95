import Crypto
import Foundation

/// The official SDK's `SDK-HMAC-SHA256` request signature: canonical request, string to sign, HMAC with the
/// secret key. See the API's AUTH notes for the byte-for-byte rules.
public enum SDKSignature {
    public static let algorithm = "SDK-HMAC-SHA256"
    public static let emptyBodyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The parts of an `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…` header.
    public struct Authorization: Sendable, Equatable {
        public var accessKey: String
        public var signedHeaders: [String]
        public var signature: String

        public init?(header: String) {
            guard header.hasPrefix(SDKSignature.algorithm + " ") else { return nil }
            var fields: [String: String] = [:]
            for part in header.dropFirst(SDKSignature.algorithm.count + 1).split(separator: ",") {
                let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                guard pair.count == 2 else { return nil }
                fields[String(pair[0])] = String(pair[1])
            }
            guard let access = fields["Access"], !access.isEmpty,
                let signed = fields["SignedHeaders"], !signed.isEmpty,
                let signature = fields["Signature"], !signature.isEmpty
            else { return nil }
            self.accessKey = access
            self.signedHeaders = signed.split(separator: ";").map(String.init)
            self.signature = signature
        }
    }

    /// The request as the verifier sees it.
    public struct Request: Sendable {
        public var method: String
        /// Path as sent on the wire (still percent-encoded).
        public var path: String
        /// Raw query string without `?`, or nil.
        public var query: String?
        /// Header lookup by lowercase name.
        public var header: @Sendable (String) -> String?
        public var body: [UInt8]

        public init(method: String, path: String, query: String?, body: [UInt8], header: @escaping @Sendable (String) -> String?) {
            self.method = method
            self.path = path
            self.query = query
            self.header = header
            self.body = body
        }
    }

    public static func canonicalURI(_ path: String) -> String {
        let decoded = path.removingPercentEncoding ?? path
        var uri = decoded.split(separator: "/", omittingEmptySubsequences: false).map { self.encode(String($0)) }
            .joined(separator: "/")
        if !uri.hasSuffix("/") { uri += "/" }
        return uri
    }

    public static func canonicalQuery(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { item -> (String, String) in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = self.formDecode(String(kv[0]))
            let value = kv.count > 1 ? self.formDecode(String(kv[1])) : ""
            return (self.encode(key), self.encode(value))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// `CanonicalRequest` for `request`, signing exactly `signedHeaders` (lowercase, in the given order).
    public static func canonicalRequest(_ request: Request, signedHeaders: [String]) -> String {
        var lines = [request.method.uppercased(), self.canonicalURI(request.path), self.canonicalQuery(request.query)]
        let headerLines = signedHeaders.map { name in
            "\(name):\((request.header(name) ?? "").trimmingCharacters(in: .whitespaces))\n"
        }
        lines.append(headerLines.joined())
        lines.append(signedHeaders.joined(separator: ";"))
        let payloadHash =
            request.header("x-sdk-content-sha256")
            ?? (request.body.isEmpty ? self.emptyBodyHash : self.hex(SHA256.hash(data: request.body)))
        lines.append(payloadHash)
        return lines.joined(separator: "\n")
    }

    public static func stringToSign(canonicalRequest: String, date: String) -> String {
        "\(self.algorithm)\n\(date)\n\(self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))))"
    }

    public static func signature(stringToSign: String, secretKey: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: SymmetricKey(data: Data(secretKey.utf8)))
        return self.hex(mac)
    }

    /// Signs `request` as the SDK does and returns the `Authorization` header value.
    public static func authorizationHeader(
        for request: Request,
        signedHeaders: [String],
        accessKey: String,
        secretKey: String
    ) -> String {
        let canonical = self.canonicalRequest(request, signedHeaders: signedHeaders)
        let toSign = self.stringToSign(canonicalRequest: canonical, date: request.header("x-sdk-date") ?? "")
        let signature = self.signature(stringToSign: toSign, secretKey: secretKey)
        return "\(self.algorithm) Access=\(accessKey), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)"
    }

    /// Parses an `X-Sdk-Date` value (`yyyyMMdd'T'HHmmss'Z'`, UTC).
    public static func parseDate(_ value: String) -> Date? {
        let chars = Array(value.utf8)
        guard chars.count == 16, chars[8] == UInt8(ascii: "T"), chars[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: chars[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
            let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15)
        else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month, day)
        (components.hour, components.minute, components.second) = (hour, minute, second)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == day else { return nil }
        return date
    }

    public static func formatDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// Constant-time comparison of two strings.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    /// Percent-encodes everything but `A-Z a-z 0-9 - _ . ~`, with uppercase hex.
    static func encode(_ string: String) -> String {
        var out = ""
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    private static func formDecode(_ string: String) -> String {
        string.removingPercentEncoding ?? string
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        Hex.encode(digest)
    }
}
