import Foundation
import HTTPTypes
import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// The response encoder of the `/v1` routes: a handler's typed reply becomes a GA JSON body (snake_case keys) with the
/// request's `request_id` added next to the reply's own members.
struct GAResponseEncoder: ResponseEncoder {
    func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        let requestID = (context as? any RequestIdentified)?.requestID ?? ""
        return try JSONResponse.raw(.ok, WithRequestID(value: value, requestID: requestID))
    }

    /// The value's members, then `request_id`, in one JSON object.
    struct WithRequestID<Value: Encodable>: Encodable {
        let value: Value
        let requestID: String

        func encode(to encoder: any Encoder) throws {
            try self.value.encode(to: encoder)
            var container = encoder.container(keyedBy: JSONResponse.Key.self)
            try container.encode(self.requestID, forKey: JSONResponse.Key(stringValue: "request_id"))
        }
    }
}

/// One resource under its key: `{"listener": {…}}`.
struct ResourceReply<Detail: Encodable & Sendable>: ResponseEncodable, Sendable {
    let key: String
    let detail: Detail

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONResponse.Key.self)
        try container.encode(self.detail, forKey: JSONResponse.Key(stringValue: self.key))
    }
}

/// One page of a list under its key, with `page_info`: `{"listeners": […], "page_info": {…}}`.
struct PageReply<Detail: Encodable & Sendable>: ResponseEncodable, Sendable {
    let key: String
    let items: [Detail]
    let nextMarker: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: JSONResponse.Key.self)
        try container.encode(self.items, forKey: JSONResponse.Key(stringValue: self.key))
        let pageInfo = JSONResponse.PageInfo(nextMarker: self.nextMarker, currentCount: self.items.count)
        try container.encode(pageInfo, forKey: JSONResponse.Key(stringValue: "page_info"))
    }
}
