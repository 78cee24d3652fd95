import Crypto
import Foundation
import SlipstreamModel

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

    /// The request as the signer or the verifier sees it.
    public struct Request: Sendable {
        /// One query parameter.
        public struct QueryItem: Sendable, Equatable {
            public var key: String
            public var value: String

            public init(key: String, value: String) {
                self.key = key
                self.value = value
            }
        }

        public var method: String
        /// Path as sent on the wire (still percent-encoded).
        public var path: String
        /// Query parameters. A verifier passes them exactly as the server's handlers will read them, so the
        /// signature covers what the server acts on; a signer passes them decoded.
        public var queryItems: [QueryItem]
        /// Every value of a header, by lowercase name (`host` gives the request's authority).
        public var headerValues: @Sendable (String) -> [String]
        public var body: [UInt8]

        /// A request with the query given as its raw string (decoded as the SDK's signer reads it) and one value
        /// per header.
        public init(method: String, path: String, query: String?, body: [UInt8], header: @escaping @Sendable (String) -> String?) {
            self.init(method: method, path: path, queryItems: SDKSignature.queryItems(query), body: body) { name in
                header(name).map { [$0] } ?? []
            }
        }

        public init(
            method: String,
            path: String,
            queryItems: [QueryItem],
            body: [UInt8],
            headerValues: @escaping @Sendable (String) -> [String]
        ) {
            self.method = method
            self.path = path
            self.queryItems = queryItems
            self.headerValues = headerValues
            self.body = body
        }

        /// The first value of a header, by lowercase name.
        public func header(_ name: String) -> String? { self.headerValues(name).first }
    }

    /// Why a signed request was refused; the message is safe to show the caller.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String

        init(_ description: String) { self.description = description }
    }

    /// Value of `X-Sdk-Content-Sha256` that stands for "the body is not part of the signature".
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// Headers that change what a request means or whose account it acts for. When present they must be signed,
    /// as the SDK always signs them; otherwise anyone could add or change them on a captured request.
    public static let headersThatMustBeSigned = ["x-domain-id", "x-project-id", "x-security-token", "x-sdk-content-sha256"]

    public static func canonicalURI(_ path: String) -> String {
        let decoded = path.removingPercentEncoding ?? path
        var uri = decoded.split(separator: "/", omittingEmptySubsequences: false).map { self.encode(String($0)) }
            .joined(separator: "/")
        if !uri.hasSuffix("/") { uri += "/" }
        return uri
    }

    /// The query string as the SDK's signer reads it: `&`-separated `key=value` pairs, both percent-decoded.
    public static func queryItems(_ query: String?) -> [Request.QueryItem] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { item in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return Request.QueryItem(key: self.formDecode(String(kv[0])), value: kv.count > 1 ? self.formDecode(String(kv[1])) : "")
        }
    }

    public static func canonicalQuery(_ query: String?) -> String {
        self.canonicalQuery(self.queryItems(query))
    }

    /// Pairs encoded with the unreserved-only rule, sorted by key then value, joined as `k=v` with `&`.
    public static func canonicalQuery(_ items: [Request.QueryItem]) -> String {
        let pairs = items.map { (self.encode($0.key), self.encode($0.value)) }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Lowercase hex SHA-256 of `body`.
    public static func payloadHash(_ body: [UInt8]) -> String {
        body.isEmpty ? self.emptyBodyHash : self.hex(SHA256.hash(data: body))
    }

    /// `CanonicalRequest` for `request` as the SDK's signer builds it: signing exactly `signedHeaders` (lowercase,
    /// in the given order), with the payload hash taken from `X-Sdk-Content-Sha256` when the request has one.
    public static func canonicalRequest(_ request: Request, signedHeaders: [String]) -> String {
        self.canonicalRequest(
            request,
            signedHeaders: signedHeaders,
            payloadHash: request.header("x-sdk-content-sha256") ?? self.payloadHash(request.body)
        )
    }

    static func canonicalRequest(_ request: Request, signedHeaders: [String], payloadHash: String) -> String {
        var lines = [request.method.uppercased(), self.canonicalURI(request.path), self.canonicalQuery(request.queryItems)]
        let headerLines = signedHeaders.map { name in
            "\(name):\((request.header(name) ?? "").trimmingCharacters(in: .whitespaces))\n"
        }
        lines.append(headerLines.joined())
        lines.append(signedHeaders.joined(separator: ";"))
        lines.append(payloadHash)
        return lines.joined(separator: "\n")
    }

    /// Verifies a received request's signature, trusting nothing the signature does not cover.
    ///
    /// Rules, beyond recomputing the SDK's signature (AUTH.md §3):
    /// - `host` and `x-sdk-date` are signed, and `X-Sdk-Date` is within `clockSkew` seconds of `now`;
    /// - every signed header appears exactly once (a repeated header has no single canonical value);
    /// - ``headersThatMustBeSigned`` are signed whenever present;
    /// - the payload hash is computed from the body bytes received. `X-Sdk-Content-Sha256` is honoured only when
    ///   signed, and then must equal that hash, or be `UNSIGNED-PAYLOAD` on a request with an empty body;
    /// - the path holds no encoded `/` (`%2F`): the canonical URI decodes it into a separator, so the signature could
    ///   not tell `a%2Fb` from `a/b`.
    ///
    /// - Throws: ``Refusal`` naming the rule that failed.
    public static func verify(
        _ request: Request,
        authorization: Authorization,
        secretKey: String,
        now: Date,
        clockSkew: Int
    ) throws(Refusal) {
        let signed = authorization.signedHeaders
        guard signed.contains("x-sdk-date"), signed.contains("host") else {
            throw Refusal("SignedHeaders must include host and x-sdk-date")
        }
        guard let dateValue = request.header("x-sdk-date"), let date = self.parseDate(dateValue) else {
            throw Refusal("X-Sdk-Date is missing or malformed")
        }
        if abs(date.timeIntervalSince(now)) > Double(clockSkew) {
            throw Refusal("X-Sdk-Date is more than \(clockSkew) seconds from server time")
        }
        for name in signed where request.headerValues(name).count != 1 {
            throw Refusal("signed header \(name) must appear exactly once")
        }
        for name in self.headersThatMustBeSigned where !request.headerValues(name).isEmpty && !signed.contains(name) {
            throw Refusal("header \(name) must be signed")
        }
        if request.path.range(of: "%2F", options: .caseInsensitive) != nil {
            throw Refusal("the path must not contain an encoded '/' (%2F)")
        }
        var payloadHash = self.payloadHash(request.body)
        if signed.contains("x-sdk-content-sha256"), let declared = request.header("x-sdk-content-sha256") {
            if declared == self.unsignedPayload {
                guard request.body.isEmpty else { throw Refusal("UNSIGNED-PAYLOAD is accepted only on requests without a body") }
            } else if declared.lowercased() != payloadHash {
                throw Refusal("X-Sdk-Content-Sha256 does not match the body")
            }
            payloadHash = declared
        }
        let canonical = self.canonicalRequest(request, signedHeaders: signed, payloadHash: payloadHash)
        let expected = self.signature(stringToSign: self.stringToSign(canonicalRequest: canonical, date: dateValue), secretKey: secretKey)
        guard self.constantTimeEquals(expected, authorization.signature) else {
            throw Refusal("verify aksk signature fail")
        }
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
