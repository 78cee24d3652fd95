import Foundation
import SlipstreamModel
import Testing

@testable import SlipstreamAPI
@testable import SlipstreamTestSupport

/// The worked examples of the SDK's signer, computed by the official SDK.
@Suite struct SDKSignatureTests {
    static let accessKey = "EXAMPLEAK0000000000Z"
    static let secretKey = "EXAMPLESK0000000000000000000000000000000Z"
    static let signed = ["content-type", "host", "user-agent", "x-domain-id", "x-sdk-date"]

    static func request(
        _ method: String,
        _ path: String,
        query: String?,
        body: String = "",
        userAgent: String = "huaweicloud-usdk-python/3.0; example-agent"
    )
        -> SDKSignature.Request
    {
        let headers = [
            "content-type": "application/json", "host": "127.0.0.1:8080", "user-agent": userAgent,
            "x-domain-id": "0123456789abcdef0123456789abcdef", "x-sdk-date": "20240101T000000Z",
        ]
        return SDKSignature.Request(method: method, path: path, query: query, body: Array(body.utf8)) { headers[$0] }
    }

    @Test func getWithoutBody() {
        let request = Self.request("GET", "/v1/accelerators", query: "limit=10&page_reverse=true")
        let canonical = SDKSignature.canonicalRequest(request, signedHeaders: Self.signed)
        #expect(
            canonical == """
                GET
                /v1/accelerators/
                limit=10&page_reverse=true
                content-type:application/json
                host:127.0.0.1:8080
                user-agent:huaweicloud-usdk-python/3.0; example-agent
                x-domain-id:0123456789abcdef0123456789abcdef
                x-sdk-date:20240101T000000Z

                content-type;host;user-agent;x-domain-id;x-sdk-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """
        )
        #expect(
            SDKSignature.stringToSign(canonicalRequest: canonical, date: "20240101T000000Z")
                == "SDK-HMAC-SHA256\n20240101T000000Z\n0245ae352f7ba07d1f4bfb6432894883061c2ff083aed520a67ea2dc8c66dec7"
        )
        #expect(
            SDKSignature.authorizationHeader(for: request, signedHeaders: Self.signed, accessKey: Self.accessKey, secretKey: Self.secretKey)
                == "SDK-HMAC-SHA256 Access=EXAMPLEAK0000000000Z, SignedHeaders=content-type;host;user-agent;x-domain-id;x-sdk-date, Signature=97ba8acbba0afa3968c160ccc0d816e3424bb08832c7acc482a2f90faa3273e1"
        )
    }

    @Test func postWithBody() {
        let body = #"{"listener": {"name": "l1", "protocol": "TCP", "port_ranges": [{"from_port": 80, "to_port": 80}], "accelerator_id": "a1"}}"#
        let request = Self.request("POST", "/v1/listeners", query: nil, body: body)
        let canonical = SDKSignature.canonicalRequest(request, signedHeaders: Self.signed)
        #expect(canonical.hasSuffix("f2e957b3a26b829a59d52d90288f478fb4400b66af99ef916ceb09a964d066dd"))
        #expect(
            SDKSignature.stringToSign(canonicalRequest: canonical, date: "20240101T000000Z")
                == "SDK-HMAC-SHA256\n20240101T000000Z\n0929bce92f2f9ddf8d450fc417cd0c258ea689f079f3c85681abca54db74e0ab"
        )
        #expect(
            SDKSignature.authorizationHeader(for: request, signedHeaders: Self.signed, accessKey: Self.accessKey, secretKey: Self.secretKey)
                .hasSuffix("Signature=649f21c7967d1ec3b8da15a66b46f655316ab70f519334facd780be75f7ca09e")
        )
    }

    @Test func encodingCornerCase() {
        let request = Self.request("GET", "/v1/listeners/id%2Fx%20y", query: "limit=5&name=my%20ga%2F1", userAgent: "ua")
        #expect(SDKSignature.canonicalURI(request.path) == "/v1/listeners/id/x%20y/")
        #expect(SDKSignature.canonicalQuery(request.queryItems) == "limit=5&name=my%20ga%2F1")
        #expect(
            SDKSignature.authorizationHeader(for: request, signedHeaders: Self.signed, accessKey: Self.accessKey, secretKey: Self.secretKey)
                .hasSuffix("Signature=b40e9abbea50195f7538d5bacad562a570adc15da1b805b09e90d1db07643cce")
        )
    }

    @Test func queryIsSortedAndReencoded() {
        #expect(SDKSignature.canonicalQuery("b=2&a=2&a=1&c=x+y") == "a=1&a=2&b=2&c=x%2By")
        #expect(SDKSignature.canonicalQuery(nil) == "")
    }

    @Test func authorizationHeaderParsing() throws {
        let header = try #require(
            SDKSignature.Authorization(header: "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=abc")
        )
        #expect(header.accessKey == "AK")
        #expect(header.signedHeaders == ["host", "x-sdk-date"])
        #expect(header.signature == "abc")
        #expect(SDKSignature.Authorization(header: "AWS4-HMAC-SHA256 Credential=x") == nil)
        #expect(SDKSignature.Authorization(header: "SDK-HMAC-SHA256 Access=AK") == nil)
    }

    @Test func sdkDates() throws {
        let date = try #require(SDKSignature.parseDate("20240101T000000Z"))
        #expect(date.timeIntervalSince1970 == 1_704_067_200)
        #expect(SDKSignature.formatDate(date) == "20240101T000000Z")
        #expect(SDKSignature.parseDate("20240230T000000Z") == nil)
        #expect(SDKSignature.parseDate("2024-01-01T00:00:00Z") == nil)
    }

    /// A request as a verifier receives it: `headers` by lowercase name, possibly repeated.
    static func received(
        _ method: String,
        _ path: String,
        query: [SDKSignature.Request.QueryItem] = [],
        body: String = "",
        headers: [(String, String)]
    ) -> SDKSignature.Request {
        SDKSignature.Request(method: method, path: path, queryItems: query, body: Array(body.utf8)) { name in
            headers.filter { $0.0 == name }.map(\.1)
        }
    }

    /// Signs `signed` as the SDK would and verifies `sent` against that signature.
    static func verify(
        signed: SDKSignature.Request,
        sent: SDKSignature.Request,
        headers: [String] = ["content-type", "host", "x-sdk-date"]
    ) throws(SDKSignature.Refusal) {
        let header = SDKSignature.authorizationHeader(for: signed, signedHeaders: headers, accessKey: Self.accessKey, secretKey: Self.secretKey)
        let now = SDKSignature.parseDate("20240101T000100Z")!
        try SDKSignature.verify(sent, authorization: SDKSignature.Authorization(header: header)!, secretKey: Self.secretKey, now: now, clockSkew: 900)
    }

    static let base = [("content-type", "application/json"), ("host", "127.0.0.1:8080"), ("x-sdk-date", "20240101T000000Z")]

    @Test func verifierComputesThePayloadHashFromTheBody() throws {
        let a = #"{"accelerator": {"name": "a"}}"#
        let b = #"{"accelerator": {"name": "b"}}"#
        let signed = Self.received("POST", "/v1/accelerators", body: a, headers: Self.base)
        try Self.verify(signed: signed, sent: signed)
        // Body B with A's hash in an unsigned header: the header is not trusted.
        let hashA = SDKSignature.payloadHash(Array(a.utf8))
        let swapped = Self.received("POST", "/v1/accelerators", body: b, headers: Self.base + [("x-sdk-content-sha256", hashA)])
        #expect(throws: SDKSignature.Refusal("header x-sdk-content-sha256 must be signed")) { try Self.verify(signed: signed, sent: swapped) }
        // Signed, it must match the body that arrived.
        let withHash = Self.base + [("x-sdk-content-sha256", hashA)]
        let signedHash = ["content-type", "host", "x-sdk-content-sha256", "x-sdk-date"]
        try Self.verify(
            signed: Self.received("POST", "/v1/accelerators", body: a, headers: withHash),
            sent: Self.received("POST", "/v1/accelerators", body: a, headers: withHash),
            headers: signedHash
        )
        #expect(throws: SDKSignature.Refusal("X-Sdk-Content-Sha256 does not match the body")) {
            try Self.verify(
                signed: Self.received("POST", "/v1/accelerators", body: a, headers: withHash),
                sent: Self.received("POST", "/v1/accelerators", body: b, headers: withHash),
                headers: signedHash
            )
        }
        // UNSIGNED-PAYLOAD: only signed, and only without a body.
        let unsigned = Self.base + [("x-sdk-content-sha256", SDKSignature.unsignedPayload)]
        let get = Self.received("GET", "/v1/accelerators", headers: unsigned)
        try Self.verify(signed: get, sent: get, headers: signedHash)
        let post = Self.received("POST", "/v1/accelerators", body: b, headers: unsigned)
        #expect(throws: SDKSignature.Refusal("UNSIGNED-PAYLOAD is accepted only on requests without a body")) {
            try Self.verify(signed: post, sent: post, headers: signedHash)
        }
    }

    @Test func verifierTrustsNoUnsignedInput() throws {
        let plain = Self.received("GET", "/v1/accelerators", query: [.init(key: "limit", value: "1")], headers: Self.base)
        try Self.verify(signed: plain, sent: plain)
        // Query, path, method and signed header values are covered.
        for sent in [
            Self.received("GET", "/v1/accelerators", query: [.init(key: "limit", value: "2")], headers: Self.base),
            Self.received("GET", "/v1/accelerators", query: [.init(key: "li%6Dit", value: "1")], headers: Self.base),
            Self.received("GET", "/v1/listeners", query: [.init(key: "limit", value: "1")], headers: Self.base),
            Self.received("DELETE", "/v1/accelerators", query: [.init(key: "limit", value: "1")], headers: Self.base),
            Self.received(
                "GET",
                "/v1/accelerators",
                query: [.init(key: "limit", value: "1")],
                headers: [("content-type", "text/plain"), ("host", "127.0.0.1:8080"), ("x-sdk-date", "20240101T000000Z")]
            ),
            Self.received(
                "GET",
                "/v1/accelerators",
                query: [.init(key: "limit", value: "1")],
                headers: [("content-type", "application/json"), ("host", "evil:8080"), ("x-sdk-date", "20240101T000000Z")]
            ),
        ] {
            #expect(throws: SDKSignature.Refusal("verify aksk signature fail")) { try Self.verify(signed: plain, sent: sent) }
        }
        // Identity headers must be signed when present.
        for name in ["x-domain-id", "x-project-id", "x-security-token"] {
            let sent = Self.received("GET", "/v1/accelerators", query: [.init(key: "limit", value: "1")], headers: Self.base + [(name, "x")])
            #expect(throws: SDKSignature.Refusal("header \(name) must be signed")) { try Self.verify(signed: plain, sent: sent) }
        }
        // A signed header sent twice.
        let twice = Self.received("GET", "/v1/accelerators", query: [.init(key: "limit", value: "1")], headers: Self.base + [("host", "other")])
        #expect(throws: SDKSignature.Refusal("signed header host must appear exactly once")) { try Self.verify(signed: plain, sent: twice) }
        // Host and date must be signed; the date must be near the verifier's clock.
        #expect(throws: SDKSignature.Refusal("SignedHeaders must include host and x-sdk-date")) {
            try Self.verify(signed: plain, sent: plain, headers: ["content-type", "x-sdk-date"])
        }
        let stale = Self.received("GET", "/v1/accelerators", headers: [("host", "h"), ("x-sdk-date", "20231231T000000Z")])
        #expect(throws: SDKSignature.Refusal("X-Sdk-Date is more than 900 seconds from server time")) {
            try Self.verify(signed: stale, sent: stale, headers: ["host", "x-sdk-date"])
        }
        // An encoded '/' would let `a%2Fb` stand for `a/b`.
        let slash = Self.received("GET", "/v1/accelerators/a%2fb", headers: Self.base)
        #expect(throws: SDKSignature.Refusal("the path must not contain an encoded '/' (%2F)")) { try Self.verify(signed: slash, sent: slash) }
    }
}
