import Foundation

#if os(Linux)
    import CSlipstreamLinux
#endif

/// The served API's OpenAPI 3.0.3 document: the resource file `openapi.json`, generated from the GA API's
/// `operations.json` and `models.json` by `scripts/gen_openapi.py` (edit the script, not the file). It is compiled
/// into the binary (`.embedInCode`), so the executable needs no resource bundle beside it.
enum OpenAPIDocument {
    /// The document's UTF-8 bytes, as `GET /openapi.json` serves them.
    static let bytes: [UInt8] = PackageResources.openapi_json

    /// The document parsed (`JSONSerialization` objects). The routes, query rules and request-body schemas are read
    /// from it once, at start (``deriveRules()``).
    static func parsed() -> [String: Any] {
        // The file is generated and checked by the test suite; a document that does not parse is a build defect.
        guard let object = try? JSONSerialization.jsonObject(with: Data(Self.bytes)) as? [String: Any] else {
            preconditionFailure("openapi.json is not a JSON object")
        }
        return object
    }

    /// Derives everything the server reads from the document (the routes, the repeatable query parameters, the
    /// request-body schemas) now, one after another on the calling thread, then hands the memory the parses freed
    /// back to the system. Each parse builds a few MiB of `JSONSerialization` objects that live only while the rules
    /// are derived; left to the first requests, they grow the malloc arenas of whichever threads serve them, and glibc
    /// keeps those pages (about 5 MiB of the process's anonymous memory after the first configuration calls).
    static func deriveRules() {
        _ = APIRoutes.all
        _ = APIRoutes.repeatableQueryParameters
        _ = RequestSchemas.bodies
        #if os(Linux)
            _ = cslipstream_release_free_heap()
        #endif
    }
}
