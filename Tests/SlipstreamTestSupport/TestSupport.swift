import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SlipstreamModel
import SlipstreamStore
import Testing

@testable import SlipstreamAPI
@testable import SlipstreamControlPlane

/// A fresh data directory and configuration per test.
struct TestServer {
    var configuration: SlipstreamConfiguration

    init(_ adjust: (inout SlipstreamConfiguration) -> Void = { _ in }) {
        var configuration = SlipstreamConfiguration()
        configuration.port = 0
        // API tests don't bind listener ports; the data-plane tests switch it on.
        configuration.dataPlaneEnabled = false
        configuration.dataDirectory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("slipstream-test-\(UUID().uuidString)").path
        adjust(&configuration)
        self.configuration = configuration
    }

    /// Runs `body` against the real application, with the first account's signing client.
    func run(_ body: @escaping @Sendable (API) async throws -> Void) async throws {
        var logger = Logger(label: "slipstream-test")
        logger.logLevel = .warning
        let app = try await buildApplication(configuration: self.configuration, logger: logger)
        // The first start wrote the first account's credentials here.
        let file = URL(fileURLWithPath: self.configuration.dataDirectory).appendingPathComponent(DataDirectory.credentialsFile)
        let credentials = try JSONDecoder().decode(AccountCredentials.self, from: Data(contentsOf: file))
        let dataDirectory = self.configuration.dataDirectory
        try await app.test(.router) { client in
            try await body(API(client: client, credentials: credentials, dataDirectory: dataDirectory))
        }
    }
}

/// A response with its JSON body parsed.
struct APIResponse: Sendable {
    let status: Int
    let headers: HTTPFields
    let text: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(self.text.utf8))) as? [String: Any] ?? [:]
    }

    var errorCode: String? { self.json["error_code"] as? String }
    var errorMessage: String { self.json["error_msg"] as? String ?? "" }

    /// The object under `key` (e.g. `accelerator`). A response without it (an error, another shape) is a test
    /// failure, so no assertion on the result can pass by comparing against a missing value.
    func object(_ key: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        guard let object = self.json[key] as? [String: Any] else {
            Issue.record("no object \"\(key)\" in the \(self.status) response: \(self.text.prefix(300))", sourceLocation: sourceLocation)
            return [:]
        }
        return object
    }

    /// The list under `key` (e.g. `accelerators`); a response without it is a test failure, so an empty list
    /// means the server answered with an empty list.
    func list(_ key: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        guard let list = self.json[key] as? [[String: Any]] else {
            Issue.record("no list \"\(key)\" in the \(self.status) response: \(self.text.prefix(300))", sourceLocation: sourceLocation)
            return []
        }
        return list
    }
}

/// Authentication a call carries.
enum Auth: Sendable {
    case signed(AccountCredentials)
    case signedWith(accessKey: String, secretKey: String)
    case token(String)
    case anonymous
}

/// Drives the API like the official SDK: JSON bodies, `SDK-HMAC-SHA256` signatures.
struct API: Sendable {
    let client: any TestClientProtocol
    let credentials: AccountCredentials
    let dataDirectory: String

    @discardableResult
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        _ body: String? = nil,
        auth: Auth? = nil,
        date: Date = Date(),
        extraHeaders: HTTPFields = [:],
        tamper: Bool = false,
        signedURI: String? = nil,
        signedBody: String? = nil,
        signedHeaders: [String] = ["content-type", "host", "user-agent", "x-sdk-date"]
    ) async throws -> APIResponse {
        var headers = extraHeaders
        headers[.contentType] = "application/json"
        headers[.userAgent] = "huaweicloud-usdk-python/3.0; slipstream-tests"
        headers[.sdkDate] = SDKSignature.formatDate(date)
        let bodyBytes = Array((body ?? "").utf8)
        let keys: (String, String)?
        switch auth ?? .signed(self.credentials) {
        case .signed(let credentials): keys = (credentials.accessKey, credentials.secretKey)
        case .signedWith(let accessKey, let secretKey): keys = (accessKey, secretKey)
        case .token(let token):
            headers[.authToken] = token
            keys = nil
        case .anonymous: keys = nil
        }
        if let (accessKey, secretKey) = keys {
            // What the signer saw; `signedURI` and `signedBody` let a test send something else under that signature.
            let parts = (signedURI ?? uri).split(separator: "?", maxSplits: 1).map(String.init)
            let snapshot = headers
            let request = SDKSignature.Request(
                method: method.rawValue,
                path: parts[0],
                query: parts.count > 1 ? parts[1] : nil,
                body: signedBody.map { Array($0.utf8) } ?? bodyBytes
            ) { name in name == "host" ? "localhost" : HTTPField.Name(name).flatMap { snapshot[$0] } }
            headers[.authorization] = SDKSignature.authorizationHeader(
                for: request,
                signedHeaders: signedHeaders,
                accessKey: accessKey,
                secretKey: secretKey
            )
        }
        let sent = tamper ? bodyBytes.map { $0 == UInt8(ascii: "1") ? UInt8(ascii: "2") : $0 } : bodyBytes
        let response = try await self.client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: body == nil ? nil : ByteBuffer(bytes: sent)
        )
        return APIResponse(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
    }

    /// Creates a resource and returns its object, expecting 201.
    func create(_ uri: String, _ key: String, _ body: String, auth: Auth? = nil) async throws -> [String: Any] {
        let response = try await self.call(.post, uri, body, auth: auth)
        try #require(response.status == 201, "POST \(uri) answered \(response.status): \(response.text)")
        return response.object(key)
    }

    func createAccelerator(name: String = "ga-1", area: String = "OUTOFCM") async throws -> String {
        let body = #"{"accelerator": {"name": "\#(name)", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "\#(area)"}]}}"#
        return try await self.create("/v1/accelerators", "accelerator", body)["id"] as! String
    }

    func createListener(acceleratorID: String, from: Int = 80, to: Int = 80, protocol proto: String = "TCP") async throws -> String {
        let body =
            #"{"listener": {"name": "l-\#(from)", "protocol": "\#(proto)", "accelerator_id": "\#(acceleratorID)", "port_ranges": [{"from_port": \#(from), "to_port": \#(to)}]}}"#
        return try await self.create("/v1/listeners", "listener", body)["id"] as! String
    }

    func createEndpointGroup(listenerID: String, region: String = "cn-east-3") async throws -> String {
        let body = #"{"endpoint_group": {"name": "eg", "region_id": "\#(region)", "listeners": [{"id": "\#(listenerID)"}]}}"#
        return try await self.create("/v1/endpoint-groups", "endpoint_group", body)["id"] as! String
    }

    func createEndpoint(groupID: String, ip: String = "127.0.0.2", resourceID: String? = nil) async throws -> String {
        let body = #"{"endpoint": {"resource_id": "\#(resourceID ?? ip)", "resource_type": "CUSTOM_IP", "ip_address": "\#(ip)"}}"#
        return try await self.create("/v1/endpoint-groups/\(groupID)/endpoints", "endpoint", body)["id"] as! String
    }

    /// Polls `uri` until the object under `key` has `status`, for at most five seconds.
    func waitForStatus(_ uri: String, _ key: String, _ status: String) async throws {
        let reached = try await eventually { try await self.call(.get, uri).object(key)["status"] as? String == status }
        if !reached { Issue.record("\(uri) never reached \(status)") }
    }

    /// Polls `uri` after a delete until it answers 404 GA.9002, for at most five seconds. Until then the object
    /// under `key` (`listener`, `endpoint_group`, …) must be there and `DELETING`: never ACTIVE again, nor anything
    /// else (the GA API reference's status of a resource being deleted).
    func waitForGone(_ uri: String, _ key: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let gone = try await eventually {
            let response = try await self.call(.get, uri)
            if response.status == 404 {
                expectError(response, 404, "GA.9002", sourceLocation: sourceLocation)
                return true
            }
            let status = response.object(key)["status"] as? String
            #expect(
                response.status == 200 && status == "DELETING",
                "\(uri) answers \(response.status) with \(key).status \(status ?? "missing") while being deleted",
                sourceLocation: sourceLocation
            )
            return false
        }
        if !gone { Issue.record("\(uri) never went away", sourceLocation: sourceLocation) }
    }

    /// A second account in the same data directory, made as `slipstream admin create-account` makes it.
    func createAccount(_ name: String) async throws -> AccountCredentials {
        var configuration = SlipstreamConfiguration()
        configuration.dataDirectory = self.dataDirectory
        let directory = try await DataDirectory.open(configuration: configuration, logger: Logger(label: "admin"), bootstrap: false)
        let credentials = try await directory.accounts.createAccount(name: name)
        try await directory.store.close()
        return credentials
    }
}

/// Expects a GA error.
func expectError(
    _ response: APIResponse,
    _ status: Int,
    _ code: String,
    mentioning text: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.errorCode == code, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.headers[.requestID] != nil, sourceLocation: sourceLocation)
    #expect(response.json["request_id"] as? String == response.headers[.requestID], sourceLocation: sourceLocation)
    if let text {
        #expect(response.errorMessage.contains(text), "\(response.errorMessage) should mention \(text)", sourceLocation: sourceLocation)
    }
}
