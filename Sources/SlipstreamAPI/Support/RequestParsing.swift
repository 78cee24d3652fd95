import Foundation
import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// Turning request bodies, path parameters and query strings into typed values, or GA.9001.
enum RequestParsing {
    static let decoder = JSONDecoder()

    /// Parses the body, checks it against `schema`, and decodes the object under `key` (or, without a key, the
    /// whole body) as `T`.
    static func body<T: Decodable>(_ type: T.Type, key: String?, schema: Schema, request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: .max)
        guard buffer.readableBytes > 0 else { throw GAError.invalid("body", "a JSON object is required") }
        let data = Data(buffer.readableBytesView)
        let value: JSONValue
        do {
            value = try self.decoder.decode(JSONValue.self, from: data)
        } catch {
            throw GAError.invalid("body", "malformed JSON")
        }
        guard case .object = value else { throw GAError.invalid("body", "must be a JSON object") }
        try schema.validate(value, at: "")
        do {
            let inner = try key.map { try JSONEncoder().encode(value[$0] ?? .object([:])) } ?? data
            return try self.decoder.decode(T.self, from: inner)
        } catch {
            throw GAError.invalid(key ?? "body", "cannot be read")
        }
    }

    /// A path parameter, percent-decoded: the router captures segments as sent on the wire, and every rule applies to
    /// the decoded text (RFC 3986 §2.1). Nil when the route has no such capture.
    ///
    /// - Throws: GA.9001 when the segment is not valid percent-encoded UTF-8.
    static func pathParameter(_ name: String, named label: String? = nil, context: some RequestContext) throws -> String? {
        guard let raw = context.parameters.get(name) else { return nil }
        guard let decoded = raw.removingPercentEncoding else {
            throw GAError.invalid(label ?? name, "is not valid percent-encoded UTF-8")
        }
        return decoded
    }

    /// A path id, 1–36 characters after percent-decoding; `named` is how errors call it when the route names it
    /// differently.
    static func id(_ name: String, named label: String? = nil, context: some RequestContext) throws -> String {
        guard let value = try self.pathParameter(name, named: label, context: context), !value.isEmpty, value.count <= 36 else {
            throw GAError.invalid(label ?? name, "length must be between 1 and 36")
        }
        return value
    }

    /// Paging and the filters `filters` names (`id`, `name`, `status` and the parent filters).
    static func listQuery(_ request: Request, filters: Set<String>, parentKey: String? = nil) throws -> ListQuery {
        let parameters = request.uri.queryParameters
        var query = ListQuery()
        func string(_ key: String, maxLength: Int, minLength: Int = 0) throws -> String? {
            guard let raw = parameters[Substring(key)] else { return nil }
            let value = String(raw)
            guard value.count >= minLength, value.count <= maxLength else {
                throw GAError.invalid(key, "length must be between \(minLength) and \(maxLength)")
            }
            return value
        }
        if let raw = parameters["limit"] {
            guard let limit = Int(raw), (1...2000).contains(limit) else { throw GAError.invalid("limit", "must be an integer between 1 and 2000") }
            query.limit = limit
        }
        query.marker = try string("marker", maxLength: 36, minLength: 1)
        if let raw = parameters["page_reverse"] {
            switch raw.lowercased() {
            case "true": query.pageReverse = true
            case "false": query.pageReverse = false
            default: throw GAError.invalid("page_reverse", "must be true or false")
            }
        }
        if filters.contains("id") { query.id = try string("id", maxLength: 36) }
        if filters.contains("name") { query.name = try string("name", maxLength: 64) }
        if filters.contains("status"), let raw = try string("status", maxLength: 16) {
            guard let status = ResourceStatus(rawValue: raw) else {
                throw GAError.invalid("status", "must be one of ACTIVE, PENDING, ERROR, DELETING")
            }
            query.status = status
        }
        if filters.contains("enterprise_project_id") { query.enterpriseProjectID = try string("enterprise_project_id", maxLength: 36) }
        if let parentKey { query.parentID = try string(parentKey, maxLength: 36) }
        return query
    }
}
