import Foundation
import HTTPTypes
import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// Authenticates every `/v1` call (and the IAM look-ups the SDK makes) by the SDK's AK/SK signature or by an
/// `X-Auth-Token`. Failures are 401 `APIGW.0301`, as Huawei's API gateway answers.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = SlipstreamRequestContext

    let accounts: AccountStore
    let tokenKey: SymmetricKeyBox
    let clockSkewSeconds: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.requiresAuthentication(request.uri.path) else { return try await next(request, context) }
        var context = context
        let caller = try await self.authenticate(request)
        if let domainID = request.headers[.domainID], !domainID.isEmpty, domainID != caller.domainID {
            throw GAError.unauthorized("X-Domain-Id does not match the credentials")
        }
        context.caller = caller
        return try await next(request, context)
    }

    /// Whether `path` is an authenticated route. Judged on the path as the router sees it (empty segments dropped),
    /// so `//v1/accelerators` is no way around it.
    static func requiresAuthentication(_ path: String) -> Bool {
        let segments = path.split(separator: "/")
        guard let first = segments.first else { return false }
        if first == "v1" { return true }
        return first == "v3" && segments != ["v3", "auth", "tokens"]
    }

    func authenticate(_ request: Request) async throws -> Caller {
        if let token = request.headers[.authToken] {
            let claims = try IAMToken.verify(token, key: self.tokenKey.key)
            guard let caller = try await self.accounts.caller(domainID: claims.domainID) else {
                throw GAError.unauthorized("the account of this token no longer exists")
            }
            return caller
        }
        guard let header = request.headers[.authorization] else {
            throw GAError.unauthorized("x-auth-token not found")
        }
        guard let authorization = SDKSignature.Authorization(header: header) else {
            throw GAError.unauthorized("unsupported authorization header, expected \(SDKSignature.algorithm)")
        }
        guard let (secret, caller) = try await self.accounts.secret(forAccessKey: authorization.accessKey) else {
            throw GAError.unauthorized("verify aksk signature fail")
        }
        let body = try await request.body.collect(upTo: .max)
        let headers = request.headers
        let authority = request.head.authority
        // The query exactly as the handlers read it (`uri.queryParameters`), so the signature covers what they act on.
        let queryItems = request.uri.queryParameters.map { SDKSignature.Request.QueryItem(key: String($0.key), value: String($0.value)) }
        let signable = SDKSignature.Request(
            method: request.method.rawValue,
            path: request.uri.path,
            queryItems: queryItems,
            body: Array(body.readableBytesView)
        ) { name in
            if name == "host" { return authority.map { [$0] } ?? [] }
            return HTTPField.Name(name).map { headers[values: $0] } ?? []
        }
        do {
            try SDKSignature.verify(signable, authorization: authorization, secretKey: secret, now: Date(), clockSkew: self.clockSkewSeconds)
        } catch {
            throw GAError.unauthorized(error.description)
        }
        return caller
    }
}
