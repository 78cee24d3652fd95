import SlipstreamModel

/// The request bodies of the control-plane operations, built from the served `openapi.json` (generated from the API's
/// `models.json` by `scripts/gen_openapi.py`): the document clients read and the checks the server runs are one
/// description.
enum RequestSchemas {
    static let createAccelerator = Self.bodies["CreateAcceleratorRequestBody"]!
    static let updateAccelerator = Self.bodies["UpdateAcceleratorRequestBody"]!
    static let createListener = Self.bodies["CreateListenerRequestBody"]!
    static let updateListener = Self.bodies["UpdateListenerRequestBody"]!
    static let createEndpointGroup = Self.bodies["CreateEndpointGroupRequestBody"]!
    static let updateEndpointGroup = Self.bodies["UpdateEndpointGroupRequestBody"]!
    static let createEndpoint = Self.bodies["CreateEndpointRequestBody"]!
    static let updateEndpoint = Self.bodies["UpdateEndpointRequestBody"]!
    static let createHealthCheck = Self.bodies["CreateHealthCheckRequestBody"]!
    static let updateHealthCheck = Self.bodies["UpdateHealthCheckRequestBody"]!
    static let createIPGroup = Self.bodies["CreateIpGroupRequestBody"]!
    static let updateIPGroup = Self.bodies["UpdateIpGroupRequestBody"]!
    static let addIPs = Self.bodies["AddIpGroupIpRequestBody"]!
    static let removeIPs = Self.bodies["RemoveIpGroupIpRequestBody"]!
    static let associateListener = Self.bodies["AssociateListenerRequestBody"]!
    static let disassociateListener = Self.bodies["DisassociateListenerRequestBody"]!
    static let createTags = Self.bodies["CreateTagsRequestBody"]!
    static let deleteTags = Self.bodies["DeleteTagsRequestBody"]!
    static let tagFilter = Self.bodies["ListResourcesByTagRequestBody"]!
    static let createLogtank = Self.bodies["CreateLogtankRequestBody"]!
    static let updateLogtank = Self.bodies["UpdateLogtankRequestBody"]!

    /// The request-body components the server validates.
    static let components = [
        "CreateAcceleratorRequestBody", "UpdateAcceleratorRequestBody", "CreateListenerRequestBody", "UpdateListenerRequestBody",
        "CreateEndpointGroupRequestBody", "UpdateEndpointGroupRequestBody", "CreateEndpointRequestBody", "UpdateEndpointRequestBody",
        "CreateHealthCheckRequestBody", "UpdateHealthCheckRequestBody", "CreateIpGroupRequestBody", "UpdateIpGroupRequestBody",
        "AddIpGroupIpRequestBody", "RemoveIpGroupIpRequestBody", "AssociateListenerRequestBody", "DisassociateListenerRequestBody",
        "CreateTagsRequestBody", "DeleteTagsRequestBody", "ListResourcesByTagRequestBody", "CreateLogtankRequestBody",
        "UpdateLogtankRequestBody",
    ]

    /// Every validated body's schema, by component name, read from the document once.
    static let bodies: [String: Schema] = {
        let schemas = (OpenAPIDocument.parsed()["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        var bodies: [String: Schema] = [:]
        for name in Self.components {
            do {
                bodies[name] = try Schema(openAPI: ["$ref": "#/components/schemas/\(name)"], components: schemas)
            } catch {
                // The document is generated and every component is converted by the test suite: a failure here is a
                // build defect, not a runtime condition.
                preconditionFailure("openapi.json: \(name): \(error)")
            }
        }
        return bodies
    }()
}

/// A construct of the OpenAPI document that the request validation cannot enforce.
struct UnsupportedSchema: Error, CustomStringConvertible {
    let description: String
}

extension Schema {
    /// Character rules by the regular expression the document states for them (from `models.json`).
    static let documentedPatterns: [String: StringPattern] = [
        #"^[A-Za-z0-9\-\u4e00-\u9fa5]{1,64}$"#: .name,
        "^[^<>]*$": .description,
    ]

    /// Character rules the document names with Slipstream's `x-character-rule` keyword, for rules a portable pattern
    /// cannot state (Unicode letter classes, reserved prefixes).
    static let namedRules: [String: StringPattern] = ["tag-key": .tagKey, "tag-value": .tagValue]

    /// The validation schema an OpenAPI 3.0 schema object describes: `$ref` (to `components`) and single-member
    /// `allOf` resolved; objects with `properties` and `required`, their fields checked in the order of Slipstream's
    /// `x-field-order` keyword (the order `models.json` lists them in; any others after, by name); arrays with `minItems`, `maxItems`; strings with `enum`, `minLength`,
    /// `maxLength` and a known `pattern` or `x-character-rule`; integers with `minimum`, `maximum`; booleans. A string
    /// marked `x-empty-refused-with` lets the empty string through, so the rule answers with that error code instead.
    ///
    /// - Throws: ``UnsupportedSchema`` for a type, pattern or rule the validator does not know, or a dangling `$ref`.
    init(openAPI node: [String: Any], components: [String: Any]) throws {
        let node = try Self.resolve(node, components)
        switch node["type"] as? String {
        case "object":
            let properties = node["properties"] as? [String: Any] ?? [:]
            let required = node["required"] as? [String] ?? []
            let documented = node["x-field-order"] as? [String] ?? []
            let names = documented + properties.keys.filter { !documented.contains($0) }.sorted()
            self = .object(
                try names.map { name in
                    guard let property = properties[name] as? [String: Any] else {
                        throw UnsupportedSchema(description: "required field \(name) has no schema")
                    }
                    return Field(name: name, required: required.contains(name), schema: try Schema(openAPI: property, components: components))
                }
            )
        case "array":
            let items = try Schema(openAPI: node["items"] as? [String: Any] ?? [:], components: components)
            self = .array(items, minItems: node["minItems"] as? Int ?? 0, maxItems: node["maxItems"] as? Int)
        case "string":
            if let values = node["enum"] as? [String] {
                self = .string(StringRule(maxLength: 0, allowed: values))
                return
            }
            var pattern: StringPattern?
            if let rule = node["x-character-rule"] as? String {
                guard let named = Self.namedRules[rule] else { throw UnsupportedSchema(description: "x-character-rule \(rule)") }
                pattern = named
            } else if let regex = node["pattern"] as? String {
                guard let known = Self.documentedPatterns[regex] else { throw UnsupportedSchema(description: "pattern \(regex)") }
                pattern = known
            }
            let minLength = node["x-empty-refused-with"] == nil ? node["minLength"] as? Int ?? 0 : 0
            self = .string(StringRule(minLength: minLength, maxLength: node["maxLength"] as? Int ?? Int.max, pattern: pattern))
        case "integer":
            let minimum = (node["minimum"] as? Int).map(Int64.init) ?? Int64.min
            let maximum = (node["maximum"] as? Int).map(Int64.init) ?? Int64.max
            self = .integer(min: minimum, max: maximum)
        case "boolean":
            self = .boolean
        case let other:
            throw UnsupportedSchema(description: "type \(other ?? "none")")
        }
    }

    private static func resolve(_ node: [String: Any], _ components: [String: Any]) throws -> [String: Any] {
        if let ref = node["$ref"] as? String {
            let name = String(ref.split(separator: "/").last ?? "")
            guard let target = components[name] as? [String: Any] else { throw UnsupportedSchema(description: "$ref \(ref)") }
            return try self.resolve(target, components)
        }
        if let all = node["allOf"] as? [[String: Any]], all.count == 1 { return try self.resolve(all[0], components) }
        return node
    }
}
