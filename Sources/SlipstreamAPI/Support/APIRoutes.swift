import Foundation

/// The served routes as the OpenAPI document lists them; used to tell an unknown path (404) from a known path
/// with the wrong method (405).
enum APIRoutes {
    /// `(method, path template)` pairs, e.g. `("GET", "/v1/listeners/{listener_id}")`.
    static let all: [(method: String, template: [Substring])] = {
        guard let document = try? JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any],
            let paths = document["paths"] as? [String: Any]
        else { return [] }
        return paths.flatMap { path, item -> [(method: String, template: [Substring])] in
            let methods = (item as? [String: Any])?.keys.filter { ["get", "put", "post", "delete", "patch"].contains($0) } ?? []
            return methods.map { ($0.uppercased(), path.split(separator: "/")) }
        }
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
}
