import Foundation

/// The served routes as the OpenAPI document lists them, and the PoP protocol's; used to tell an unknown path (404) from a known path
/// with the wrong method (405).
enum APIRoutes {
    /// `(method, path template)` pairs, e.g. `("GET", "/v1/listeners/{listener_id}")`.
    static let all: [(method: String, template: [Substring])] = {
        guard let paths = OpenAPIDocument.parsed()["paths"] as? [String: Any] else { return [] }
        return paths.flatMap { path, item -> [(method: String, template: [Substring])] in
            let methods = (item as? [String: Any])?.keys.filter { ["get", "put", "post", "delete", "patch"].contains($0) } ?? []
            return methods.map { ($0.uppercased(), path.split(separator: "/")) }
        } + PoPProtocolController.routes.map { ($0.method, $0.path.split(separator: "/")) }
    }()

    static func matches(_ template: [Substring], _ segments: [Substring]) -> Bool {
        template.count == segments.count
            && zip(template, segments).allSatisfy { pattern, segment in pattern.hasPrefix("{") || pattern == segment }
    }

    /// The methods the document lists for `path`, sorted (the `Allow` header of a 405, RFC 9110 §15.5.6).
    static func allowedMethods(path: String) -> [String] {
        let segments = path.split(separator: "/")
        return Set(self.all.filter { self.matches($0.template, segments) }.map(\.method)).sorted()
    }

    /// Query parameters that may repeat (`type: array` in the document, e.g. `resource_ids`). Every other one may
    /// appear once: handlers read the first value, while the signature covers them all.
    static let repeatableQueryParameters: Set<String> = {
        var names: Set<String> = []
        func visit(_ value: Any) {
            if let object = value as? [String: Any] {
                if object["in"] as? String == "query", let name = object["name"] as? String,
                    (object["schema"] as? [String: Any])?["type"] as? String == "array"
                {
                    names.insert(name)
                }
                object.values.forEach(visit)
            } else if let array = value as? [Any] {
                array.forEach(visit)
            }
        }
        visit(OpenAPIDocument.parsed())
        return names
    }()

    /// The first query parameter of `request` that appears more than once but may not; nil when there is none.
    static func repeatedQueryParameter(_ parameters: some Sequence<(key: Substring, value: Substring)>) -> String? {
        var seen: Set<Substring> = []
        for (key, _) in parameters where !seen.insert(key).inserted && !self.repeatableQueryParameters.contains(String(key)) {
            return String(key)
        }
        return nil
    }
}
