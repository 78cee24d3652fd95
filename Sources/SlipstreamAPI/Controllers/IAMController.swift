import Foundation
import HTTPTypes
import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// The slice of IAM a GA client needs: password tokens (`POST /v3/auth/tokens`) and the domain look-up the SDK
/// makes when it has no domain id (`GET /v3/auth/domains`).
struct IAMController {
    let accounts: AccountStore
    let tokenKey: SymmetricKeyBox
    let tokenLifetimeSeconds: Int

    var endpoints: RouteCollection<SlipstreamRequestContext> {
        let routes = RouteCollection(context: SlipstreamRequestContext.self)
        routes.post("tokens", use: self.createToken)
        routes.get("domains", use: self.domains)
        return routes
    }

    static let schema = Schema.object([
        .required(
            "auth",
            .object([
                .required(
                    "identity",
                    .object([
                        .required("methods", .array(.string(StringRule(minLength: 1, maxLength: 32)), minItems: 1)),
                        .required(
                            "password",
                            .object([
                                .required(
                                    "user",
                                    .object([
                                        .required("name", .string(StringRule(minLength: 1, maxLength: 64))),
                                        .required("password", .string(StringRule(minLength: 1, maxLength: 128))),
                                        .required("domain", .object([.required("name", .string(StringRule(minLength: 1, maxLength: 64)))])),
                                    ])
                                )
                            ])
                        ),
                    ])
                ),
                .optional(
                    "scope",
                    .object([
                        .optional(
                            "domain",
                            .object([
                                .optional("id", .string(StringRule(maxLength: 64))),
                                .optional("name", .string(StringRule(maxLength: 64))),
                            ])
                        )
                    ])
                ),
            ])
        )
    ])

    struct TokenRequest: Decodable {
        struct Named: Decodable {
            var id: String?
            var name: String?
        }
        struct User: Decodable {
            var name: String
            var password: String
            var domain: Named
        }
        struct Identity: Decodable {
            struct Password: Decodable { var user: User }
            var methods: [String]
            var password: Password
        }
        struct Scope: Decodable { var domain: Named? }
        var identity: Identity
        var scope: Scope?
    }

    func createToken(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        let body = try await RequestParsing.body(TokenRequest.self, key: "auth", schema: Self.schema, request: request)
        guard body.identity.methods.contains("password") else {
            throw GAError.invalid("auth.identity.methods", "must contain password")
        }
        let user = body.identity.password.user
        guard let domainName = user.domain.name,
            let caller = try await self.accounts.authenticate(domainName: domainName, userName: user.name, password: user.password)
        else {
            throw GAError.unauthorized("the username or password is incorrect")
        }
        if let scope = body.scope?.domain, scope.id.map({ $0 != caller.domainID }) ?? false || scope.name.map({ $0 != caller.domainName }) ?? false {
            throw GAError.unauthorized("the token scope does not match the user's domain")
        }
        let now = Date()
        let token = IAMToken(
            domainID: caller.domainID,
            userName: caller.userName,
            issuedAt: Int64(now.timeIntervalSince1970),
            expiresAt: Int64(now.timeIntervalSince1970) + Int64(self.tokenLifetimeSeconds)
        )
        let domain = Domain(id: caller.domainID, name: caller.domainName)
        let detail = TokenDetail(
            expiresAt: Timestamp.string(Date(timeIntervalSince1970: Double(token.expiresAt))),
            issuedAt: Timestamp.string(Date(timeIntervalSince1970: Double(token.issuedAt))),
            methods: ["password"],
            domain: domain,
            user: .init(id: caller.domainID, name: caller.userName, domain: domain),
            roles: []
        )
        var headers = HTTPFields()
        headers[.subjectToken] = try token.encode(key: self.tokenKey.key)
        return try JSONResponse.make(.created, ["token": detail], context: context, headers: headers)
    }

    func domains(_ request: Request, context: SlipstreamRequestContext) async throws -> Response {
        guard let caller = context.caller else { throw GAError.unauthorized("authentication required") }
        return try JSONResponse.raw(.ok, DomainList(domains: [.init(id: caller.domainID, name: caller.domainName, enabled: true)]))
    }

    struct Domain: Encodable {
        var id: String
        var name: String
    }

    struct TokenDetail: Encodable {
        struct User: Encodable {
            var id: String
            var name: String
            var domain: Domain
        }
        var expiresAt: String
        var issuedAt: String
        var methods: [String]
        var domain: Domain
        var user: User
        var roles: [Domain]
    }

    struct DomainList: Encodable {
        struct Entry: Encodable {
            var id: String
            var name: String
            var enabled: Bool
        }
        var domains: [Entry]
    }
}
