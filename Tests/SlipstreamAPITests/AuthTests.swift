import Foundation
import HTTPTypes
import SlipstreamModel
import Testing

@testable import SlipstreamAPI
@testable import SlipstreamControlPlane
@testable import SlipstreamTestSupport

@Suite struct AuthTests {
    @Test func signatures() async throws {
        try await TestServer().run { api in
            #expect(try await api.call(.get, "/v1/accelerators?limit=10&page_reverse=false").status == 200)
            let body = #"{"accelerator": {"name": "ga1", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#
            expectError(try await api.call(.get, "/v1/accelerators", auth: .anonymous), 401, "APIGW.0301")
            expectError(
                try await api.call(.get, "/v1/accelerators", auth: .signedWith(accessKey: api.credentials.accessKey, secretKey: "wrong")),
                401,
                "APIGW.0301",
                mentioning: "signature"
            )
            expectError(
                try await api.call(.get, "/v1/accelerators", auth: .signedWith(accessKey: "UNKNOWNKEY", secretKey: api.credentials.secretKey)),
                401,
                "APIGW.0301"
            )
            expectError(try await api.call(.post, "/v1/accelerators", body, tamper: true), 401, "APIGW.0301")
            expectError(
                try await api.call(.get, "/v1/accelerators", date: Date().addingTimeInterval(-3600)),
                401,
                "APIGW.0301",
                mentioning: "X-Sdk-Date"
            )
            expectError(try await api.call(.get, "/v1/accelerators", date: Date().addingTimeInterval(3600)), 401, "APIGW.0301")
            let withDomain = ["content-type", "host", "user-agent", "x-domain-id", "x-sdk-date"]
            expectError(
                try await api.call(
                    .get,
                    "/v1/accelerators",
                    extraHeaders: [.domainID: "0123456789abcdef0123456789abcdef"],
                    signedHeaders: withDomain
                ),
                401,
                "APIGW.0301",
                mentioning: "X-Domain-Id"
            )
            // None of the refused writes happened.
            #expect(try await api.call(.get, "/v1/accelerators").list("accelerators").isEmpty)
            #expect(
                try await api.call(.get, "/v1/accelerators", extraHeaders: [.domainID: api.credentials.domainID], signedHeaders: withDomain).status
                    == 200
            )
            // The SDK's domain look-up.
            let domains = try await api.call(.get, "/v3/auth/domains")
            #expect((domains.json["domains"] as? [[String: Any]])?.first?["id"] as? String == api.credentials.domainID)
            // Unauthenticated routes.
            #expect(try await api.call(.get, "/healthz", auth: .anonymous).status == 200)
        }
    }

    /// The signature covers what the server acts on: the body it received, the query as its handlers read it, and
    /// every header that carries meaning. Each case sends something other than what was signed.
    @Test func signaturesCoverWhatTheServerActsOn() async throws {
        try await TestServer().run { api in
            func body(_ name: String) -> String {
                #"{"accelerator": {"name": "\#(name)", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#
            }
            let signedBody = body("signed-a")
            let hashOfSigned = SDKSignature.payloadHash(Array(signedBody.utf8))
            let sdkHeaders = ["content-type", "host", "user-agent", "x-sdk-date"]
            // The swap: body B under a signature over body A, with A's hash in an unsigned X-Sdk-Content-Sha256.
            expectError(
                try await api.call(
                    .post,
                    "/v1/accelerators",
                    body("swapped-b"),
                    extraHeaders: [.contentSHA256: hashOfSigned],
                    signedBody: signedBody
                ),
                401,
                "APIGW.0301"
            )
            // Signed, the header must still match the body received.
            expectError(
                try await api.call(
                    .post,
                    "/v1/accelerators",
                    body("swapped-b"),
                    extraHeaders: [.contentSHA256: hashOfSigned],
                    signedBody: signedBody,
                    signedHeaders: sdkHeaders + ["x-sdk-content-sha256"]
                ),
                401,
                "APIGW.0301",
                mentioning: "X-Sdk-Content-Sha256"
            )
            // UNSIGNED-PAYLOAD, even signed, never covers a body the server would act on.
            expectError(
                try await api.call(
                    .post,
                    "/v1/accelerators",
                    body("unsigned-c"),
                    extraHeaders: [.contentSHA256: SDKSignature.unsignedPayload],
                    signedHeaders: sdkHeaders + ["x-sdk-content-sha256"]
                ),
                401,
                "APIGW.0301",
                mentioning: "UNSIGNED-PAYLOAD"
            )
            // ... and is accepted, signed, on a request without a body.
            #expect(
                try await api.call(
                    .get,
                    "/v1/accelerators",
                    extraHeaders: [.contentSHA256: SDKSignature.unsignedPayload],
                    signedHeaders: sdkHeaders + ["x-sdk-content-sha256"]
                ).status == 200
            )
            // A query key the handlers would not recognise (`li%6Dit` is not `limit` to them) is not the signed key.
            expectError(try await api.call(.get, "/v1/accelerators?li%6Dit=1", signedURI: "/v1/accelerators?limit=1"), 401, "APIGW.0301")
            // Identity headers must be signed when present, even with the caller's own value.
            for name in [HTTPField.Name.domainID, HTTPField.Name("X-Project-Id")!, HTTPField.Name("X-Security-Token")!] {
                let value = name == .domainID ? api.credentials.domainID : "anything"
                expectError(
                    try await api.call(.get, "/v1/accelerators", extraHeaders: [name: value]),
                    401,
                    "APIGW.0301",
                    mentioning: "must be signed"
                )
            }
            #expect(
                try await api.call(
                    .get,
                    "/v1/accelerators",
                    extraHeaders: [.domainID: api.credentials.domainID],
                    signedHeaders: sdkHeaders + ["x-domain-id"]
                ).status == 200
            )
            // A signed header sent twice has no single value the signature could cover.
            var twice = HTTPFields()
            twice.append(HTTPField(name: .domainID, value: api.credentials.domainID))
            twice.append(HTTPField(name: .domainID, value: "0123456789abcdef0123456789abcdef"))
            expectError(
                try await api.call(.get, "/v1/accelerators", extraHeaders: twice, signedHeaders: sdkHeaders + ["x-domain-id"]),
                401,
                "APIGW.0301",
                mentioning: "exactly once"
            )
            // `a%2Fb` and `a/b` have one canonical URI, so an encoded '/' is refused.
            expectError(try await api.call(.get, "/v1/accelerators/a%2Fb"), 401, "APIGW.0301", mentioning: "%2F")
            // None of the refused writes happened.
            #expect(try await api.call(.get, "/v1/accelerators").list("accelerators").isEmpty)
        }
    }

    @Test func tokens() async throws {
        try await TestServer().run { api in
            let credentials = api.credentials
            func tokenRequest(password: String, scope: String? = nil) -> String {
                #"{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "\#(credentials.userName)", "password": "\#(password)", "domain": {"name": "\#(credentials.domainName)"}}}}, "scope": {"domain": {"name": "\#(scope ?? credentials.domainName)"}}}}"#
            }
            let issued = try await api.call(.post, "/v3/auth/tokens", tokenRequest(password: credentials.password), auth: .anonymous)
            #expect(issued.status == 201)
            let token = try #require(issued.headers[.subjectToken])
            let detail = issued.object("token")
            #expect((detail["expires_at"] as? String)?.hasSuffix("Z") == true)
            #expect((detail["domain"] as? [String: Any])?["id"] as? String == credentials.domainID)
            #expect(token.contains(credentials.secretKey) == false)

            let created = try await api.call(
                .post,
                "/v1/accelerators",
                #"{"accelerator": {"name": "by-token", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#,
                auth: .token(token)
            )
            #expect(created.status == 201)
            #expect(try await api.call(.get, "/v1/accelerators", auth: .token(token)).list("accelerators").count == 1)

            expectError(try await api.call(.get, "/v1/accelerators", auth: .token("garbage")), 401, "APIGW.0301")
            let tampered = String(token.dropLast()) + (token.last == "A" ? "B" : "A")
            expectError(try await api.call(.get, "/v1/accelerators", auth: .token(tampered)), 401, "APIGW.0301")
            expectError(try await api.call(.post, "/v3/auth/tokens", tokenRequest(password: "wrong"), auth: .anonymous), 401, "APIGW.0301")
            expectError(
                try await api.call(.post, "/v3/auth/tokens", tokenRequest(password: credentials.password, scope: "other"), auth: .anonymous),
                401,
                "APIGW.0301"
            )
            expectError(try await api.call(.post, "/v3/auth/tokens", #"{"auth": {}}"#, auth: .anonymous), 400, "GA.9001", mentioning: "auth.identity")
        }
    }

    @Test func expiredTokensAreRefused() async throws {
        try await TestServer().run { api in
            // A token signed with the server's key but already expired.
            var configuration = SlipstreamConfiguration()
            configuration.dataDirectory = api.dataDirectory
            let key = try MasterKey(
                bytes: try DataDirectory.masterKeyBytes(configuration: configuration, directory: URL(fileURLWithPath: api.dataDirectory))
            )
            let now = Int64(Date().timeIntervalSince1970)
            let expired = try IAMToken(
                domainID: api.credentials.domainID,
                userName: api.credentials.userName,
                issuedAt: now - 100,
                expiresAt: now - 10
            )
            .encode(key: key.tokenKey)
            expectError(try await api.call(.get, "/v1/accelerators", auth: .token(expired)), 401, "APIGW.0301", mentioning: "expires")
            let valid = try IAMToken(domainID: api.credentials.domainID, userName: api.credentials.userName, issuedAt: now, expiresAt: now + 60)
                .encode(key: key.tokenKey)
            #expect(try await api.call(.get, "/v1/accelerators", auth: .token(valid)).status == 200)
        }
    }

    @Test func secretsAreNotStoredInTheClear() async throws {
        try await TestServer().run { api in
            let database = try Data(contentsOf: URL(fileURLWithPath: api.dataDirectory).appendingPathComponent(DataDirectory.databaseFile))
            let wal =
                (try? Data(contentsOf: URL(fileURLWithPath: api.dataDirectory).appendingPathComponent(DataDirectory.databaseFile + "-wal"))) ?? Data()
            for secret in [api.credentials.secretKey, api.credentials.password] {
                #expect(database.range(of: Data(secret.utf8)) == nil)
                #expect(wal.range(of: Data(secret.utf8)) == nil)
            }
        }
    }
}
