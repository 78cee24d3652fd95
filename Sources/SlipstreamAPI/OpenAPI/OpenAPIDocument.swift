import Foundation

/// The served API's OpenAPI 3.0.3 document: the resource file `openapi.json`, generated from the GA API's
/// `operations.json` and `models.json` by `scripts/gen_openapi.py` (edit the script, not the file). It is compiled
/// into the binary (`.embedInCode`), so the executable needs no resource bundle beside it.
enum OpenAPIDocument {
    /// The document's UTF-8 bytes, as `GET /openapi.json` serves them.
    static let bytes: [UInt8] = PackageResources.openapi_json

    /// The document parsed (`JSONSerialization` objects). The routes and query rules are read from it once, at first
    /// use (``APIRoutes``).
    static func parsed() -> [String: Any] {
        // The file is generated and checked by the test suite; a document that does not parse is a build defect.
        guard let object = try? JSONSerialization.jsonObject(with: Data(Self.bytes)) as? [String: Any] else {
            preconditionFailure("openapi.json is not a JSON object")
        }
        return object
    }
}
