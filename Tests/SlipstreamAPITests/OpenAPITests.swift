import Foundation
import Logging
import SlipstreamCore
import SlipstreamDataPlane
import SlipstreamStore
import Testing

@testable import SlipstreamAPI

@Suite struct OpenAPITests {
    /// `METHOD /path/{}` pairs with parameter names erased.
    static func normalise(_ method: String, _ path: String) -> String {
        let segments = path.split(separator: "/").map { $0.hasPrefix("{") || $0.hasPrefix(":") ? "{}" : String($0) }
        return "\(method.uppercased()) /\(segments.joined(separator: "/"))"
    }

    static func documentedRoutes() throws -> Set<String> {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        return Set(
            paths.flatMap { path, item in
                item.keys.filter { ["get", "put", "post", "delete", "patch"].contains($0) }.map { normalise($0, path) }
            }
        )
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteIsServed() async throws {
        let database = try await SQLiteDriver.open(path: ":memory:", logger: Logger(label: "test"))
        let controlPlane = ControlPlane(database: database, configuration: SlipstreamConfiguration())
        let accounts = AccountStore(database: database, masterKey: try MasterKey(bytes: MasterKey.generate()))
        let router = buildRouter(
            configuration: SlipstreamConfiguration(),
            controlPlane: controlPlane,
            accounts: accounts,
            metrics: MetricsRegistry(),
            logger: Logger(label: "test")
        )
        let served = Set(router.routes.map { Self.normalise($0.method.rawValue, $0.path.description) })
        let documented = try Self.documentedRoutes()
        #expect(served == documented, "served only: \(served.subtracting(documented)); documented only: \(documented.subtracting(served))")
        #expect(documented.count == 54)
        try await database.close()
    }

    @Test func documentIsServed() async throws {
        try await TestServer().run { api in
            let response = try await api.call(.get, "/openapi.json", auth: .anonymous)
            #expect(response.status == 200)
            #expect(response.headers[.contentType] == "application/json")
            let paths = response.json["paths"] as? [String: Any]
            #expect(paths?["/v1/accelerators"] != nil)
            #expect(paths?["/v1/endpoint-groups/{endpoint_group_id}/endpoints/{endpoint_id}"] != nil)
        }
    }
}
