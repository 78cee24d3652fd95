import Foundation
import Logging
import SlipstreamDataPlane
import SlipstreamModel
import SlipstreamStore
import Testing

@testable import SlipstreamAPI
@testable import SlipstreamControlPlane
@testable import SlipstreamTestSupport

@Suite struct OpenAPITests {
    /// `METHOD /path/{}` pairs with parameter names erased.
    static func normalise(_ method: String, _ path: String) -> String {
        let segments = path.split(separator: "/").map { $0.hasPrefix("{") || $0.hasPrefix(":") ? "{}" : String($0) }
        return "\(method.uppercased()) /\(segments.joined(separator: "/"))"
    }

    static func documentedRoutes() throws -> Set<String> {
        let document = OpenAPIDocument.parsed()
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
        let store = SQLStore(driver: database)
        let controlPlane = ControlPlane(store: store, settings: SlipstreamConfiguration().controlPlane)
        let accounts = AccountStore(store: store, masterKey: try MasterKey(bytes: MasterKey.generate()))
        let router = buildRouter(
            configuration: SlipstreamConfiguration(),
            controlPlane: controlPlane,
            accounts: accounts,
            metrics: MetricsRegistry(),
            logger: Logger(label: "test")
        )
        let all = Set(router.routes.map { Self.normalise($0.method.rawValue, $0.path.description) })
        // The PoP protocol is not the GA API; docs/pop-protocol.md describes it.
        let popProtocol = all.filter { $0.contains(" /pop/") }
        #expect(popProtocol == ["GET /pop/v1/snapshot", "POST /pop/v1/report"])
        let served = all.subtracting(popProtocol)
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

    /// Every limit the server enforces on a request body is the one the document states: a field the server checks
    /// is documented with the same required flag, length, range, item count and allowed values. The validation is built
    /// from the document (``RequestSchemas``); this reads the document a second, independent way and compares.
    @Test func requestSchemasAgreeWithTheDocument() throws {
        let document = OpenAPIDocument.parsed()
        let components = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let bodies: [(String, Schema)] = [
            ("CreateAcceleratorRequestBody", RequestSchemas.createAccelerator),
            ("UpdateAcceleratorRequestBody", RequestSchemas.updateAccelerator),
            ("CreateListenerRequestBody", RequestSchemas.createListener),
            ("UpdateListenerRequestBody", RequestSchemas.updateListener),
            ("CreateEndpointGroupRequestBody", RequestSchemas.createEndpointGroup),
            ("UpdateEndpointGroupRequestBody", RequestSchemas.updateEndpointGroup),
            ("CreateEndpointRequestBody", RequestSchemas.createEndpoint),
            ("UpdateEndpointRequestBody", RequestSchemas.updateEndpoint),
            ("CreateHealthCheckRequestBody", RequestSchemas.createHealthCheck),
            ("UpdateHealthCheckRequestBody", RequestSchemas.updateHealthCheck),
            ("CreateIpGroupRequestBody", RequestSchemas.createIPGroup),
            ("UpdateIpGroupRequestBody", RequestSchemas.updateIPGroup),
            ("AddIpGroupIpRequestBody", RequestSchemas.addIPs),
            ("RemoveIpGroupIpRequestBody", RequestSchemas.removeIPs),
            ("AssociateListenerRequestBody", RequestSchemas.associateListener),
            ("DisassociateListenerRequestBody", RequestSchemas.disassociateListener),
            ("CreateTagsRequestBody", RequestSchemas.createTags),
            ("DeleteTagsRequestBody", RequestSchemas.deleteTags),
            ("ListResourcesByTagRequestBody", RequestSchemas.tagFilter),
            ("CreateLogtankRequestBody", RequestSchemas.createLogtank),
            ("UpdateLogtankRequestBody", RequestSchemas.updateLogtank),
        ]
        // Stricter in the document on purpose (`x-empty-refused-with`): an empty tag key passes the schema check and is
        // answered with the reference's own code for it, GA.9109, instead of GA.9001.
        let knownStricter = [
            "CreateAcceleratorRequestBody.accelerator.tags[].key: minLength documented 1, enforced 0",
            "CreateListenerRequestBody.listener.tags[].key: minLength documented 1, enforced 0",
            "CreateTagsRequestBody.tags[].key: minLength documented 1, enforced 0",
            "DeleteTagsRequestBody.tags[].key: minLength documented 1, enforced 0",
            "ListResourcesByTagRequestBody.tags[].key: minLength documented 1, enforced 0",
        ]
        var mismatches: [String] = []
        for (name, schema) in bodies {
            Self.compare(schema, ["$ref": "#/components/schemas/\(name)"], at: name, components: components, into: &mismatches)
        }
        #expect(mismatches == knownStricter, "\(mismatches.joined(separator: "\n"))")
    }

    /// The document's schema with `$ref` and single-member `allOf` resolved.
    static func resolve(_ schema: [String: Any], _ components: [String: Any]) -> [String: Any] {
        if let ref = schema["$ref"] as? String, let target = components[String(ref.split(separator: "/").last ?? "")] as? [String: Any] {
            return self.resolve(target, components)
        }
        if let all = schema["allOf"] as? [[String: Any]], all.count == 1 { return self.resolve(all[0], components) }
        return schema
    }

    static func compare(_ server: Schema, _ documented: [String: Any], at path: String, components: [String: Any], into mismatches: inout [String]) {
        let doc = self.resolve(documented, components)
        func check(_ what: String, _ documentedValue: Int?, _ serverValue: Int?) {
            if documentedValue != serverValue {
                mismatches.append(
                    "\(path): \(what) documented \(documentedValue.map(String.init) ?? "none"), enforced \(serverValue.map(String.init) ?? "none")"
                )
            }
        }
        switch server {
        case .object(let fields):
            let properties = doc["properties"] as? [String: Any] ?? [:]
            let required = Set(doc["required"] as? [String] ?? [])
            for field in fields {
                guard let property = properties[field.name] as? [String: Any] else {
                    mismatches.append("\(path).\(field.name): checked by the server, not documented")
                    continue
                }
                if required.contains(field.name) != field.required {
                    mismatches.append(
                        "\(path).\(field.name): required is \(required.contains(field.name)) in the document, \(field.required) on the server"
                    )
                }
                self.compare(field.schema, property, at: "\(path).\(field.name)", components: components, into: &mismatches)
            }
        case .array(let item, let minItems, let maxItems):
            check("minItems", doc["minItems"] as? Int ?? 0, minItems)
            check("maxItems", doc["maxItems"] as? Int, maxItems)
            self.compare(item, doc["items"] as? [String: Any] ?? [:], at: "\(path)[]", components: components, into: &mismatches)
        case .string(let rule):
            if let allowed = rule.allowed {
                let documentedValues = Set(doc["enum"] as? [String] ?? [])
                if documentedValues != Set(allowed) {
                    mismatches.append("\(path): enum documented \(documentedValues.sorted()), enforced \(allowed.sorted())")
                }
            } else {
                check("minLength", doc["minLength"] as? Int ?? 0, rule.minLength)
                check("maxLength", doc["maxLength"] as? Int, rule.maxLength)
            }
        case .integer(let min, let max):
            check("minimum", doc["minimum"] as? Int, Int(min))
            check("maximum", doc["maximum"] as? Int, Int(max))
        case .boolean:
            if doc["type"] as? String != "boolean" { mismatches.append("\(path): documented as \(doc["type"] ?? "nothing"), enforced boolean") }
        }
    }
}
