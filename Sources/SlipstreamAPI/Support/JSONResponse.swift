import Foundation
import HTTPTypes
import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// JSON bodies the way GA writes them: snake_case keys and a `request_id` next to the payload.
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// `{"<key>": value, …, "request_id": …}` with `status`.
    static func make(
        _ status: HTTPResponse.Status,
        _ members: KeyValuePairs<String, any Encodable>,
        context: some RequestIdentified,
        headers: HTTPFields = [:]
    ) throws -> Response {
        var all = members.map { ($0.key, $0.value) }
        all.append(("request_id", context.requestID))
        return try self.raw(status, Object(members: all), headers: headers)
    }

    static func raw(_ status: HTTPResponse.Status, _ value: some Encodable, headers: HTTPFields = [:]) throws -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let data = try self.encoder.encode(value)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func noContent() -> Response {
        Response(status: .noContent)
    }

    /// A JSON object with members in a fixed order.
    struct Object: Encodable {
        let members: [(String, any Encodable)]

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (key, value) in self.members {
                try container.encode(value, forKey: Key(stringValue: key))
            }
        }
    }

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// `page_info` of list responses.
    struct PageInfo: Encodable {
        let nextMarker: String?
        let currentCount: Int

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encodeIfPresent(self.nextMarker, forKey: Key(stringValue: "next_marker"))
            try container.encode(self.currentCount, forKey: Key(stringValue: "current_count"))
        }
    }
}

extension GAError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: self.httpStatus) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try self.response(requestID: (context as? any RequestIdentified)?.requestID ?? "")
    }

    func response(requestID: String) throws -> Response {
        var headers = HTTPFields()
        headers[.requestID] = requestID
        return try JSONResponse.raw(
            self.status,
            JSONResponse.Object(members: [("error_code", self.code), ("error_msg", self.message), ("request_id", requestID)]),
            headers: headers
        )
    }
}

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
    static let subjectToken = Self("X-Subject-Token")!
    static let authToken = Self("X-Auth-Token")!
    static let sdkDate = Self("X-Sdk-Date")!
    static let domainID = Self("X-Domain-Id")!
    static let allow = Self("Allow")!
    static let contentSHA256 = Self("X-Sdk-Content-Sha256")!
}

extension JSONResponse {
    /// A list response: `{"<key>": [...], "page_info": {...}, "request_id": ...}`.
    static func page<S, D: Encodable>(
        _ key: String,
        _ page: Page<S>,
        _ detail: (Resource<S>) -> D,
        context: some RequestIdentified
    ) throws -> Response {
        let items = page.items.map(detail)
        return try self.make(
            .ok,
            [key: items, "page_info": PageInfo(nextMarker: page.nextMarker, currentCount: items.count)],
            context: context
        )
    }
}
