/// An error in the Global Accelerator error format: an HTTP status, a `GA.9xxx` (or `APIGW.xxxx`) code and a message.
///
/// Every failure a client can cause is one of these; the API layer renders it as
/// `{"error_code": …, "error_msg": …, "request_id": …}`.
public struct GAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status code.
    public let httpStatus: Int
    /// `GA.9001`, `APIGW.0301`, …
    public let code: String
    /// Human readable message. Never contains secrets.
    public let message: String

    public init(status: Int, code: String, message: String) {
        self.httpStatus = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.httpStatus) \(self.code): \(self.message)" }

    /// The same error with a detail appended to its message.
    public func with(detail: String) -> GAError {
        GAError(status: self.httpStatus, code: self.code, message: "\(self.message) (\(detail))")
    }
}

extension GAError {
    /// 400 GA.9001: a field fails validation. `field` is the dotted path of the field.
    public static func invalid(_ field: String, _ reason: String) -> GAError {
        GAError(status: 400, code: "GA.9001", message: "Invalid \(field): \(reason)")
    }

    /// 404 GA.9002: the resource does not exist for this caller.
    public static func notFound(_ kind: ResourceKind, _ id: String) -> GAError {
        GAError(status: 404, code: "GA.9002", message: "Not found: \(kind.rawValue) \(id)")
    }

    /// 400 GA.9004: the target is not in a state that allows the operation.
    public static func notOperable(_ kind: ResourceKind, _ id: String, status: ResourceStatus) -> GAError {
        GAError(status: 400, code: "GA.9004", message: "Resource \(kind.rawValue) \(id) is in \(status.rawValue) status no operation allowed")
    }

    /// 409 GA.9005: a delete is blocked by dependent resources.
    public static func inUse(_ kind: ResourceKind, _ id: String, by child: ResourceKind) -> GAError {
        GAError(status: 409, code: "GA.9005", message: "Found \(kind.rawValue) \(id) is associated by \(child.rawValue)")
    }

    /// 400 GA.9101: bad or overlapping listener port ranges.
    public static func portRanges(_ detail: String) -> GAError {
        GAError(status: 400, code: "GA.9101", message: "port_ranges is invalid or overlapped: \(detail)")
    }

    /// 400 GA.9103: a quota is exhausted.
    public static func quota(_ name: String) -> GAError {
        GAError(status: 400, code: "GA.9103", message: "Insufficient quota resource : \(name)")
    }

    /// 400 GA.9104: the resource already exists.
    public static func alreadyExists(_ what: String) -> GAError {
        GAError(status: 400, code: "GA.9104", message: "Resource \(what) is already exists")
    }

    /// 400 GA.9105: the region is not served.
    public static func regionNotEnabled(_ region: String) -> GAError {
        GAError(status: 400, code: "GA.9105", message: "The acceleration capability is not enabled for the selected region: \(region)")
    }

    /// 400 GA.9107: the same tag key twice in one request.
    public static let duplicateTagKey = GAError(status: 400, code: "GA.9107", message: "Tag key is duplicated")

    /// 400 GA.9108: the same value twice for one tag key.
    public static let duplicateTagValue = GAError(status: 400, code: "GA.9108", message: "Tag value is duplicated")

    /// 400 GA.9109: an empty tag key.
    public static let emptyTagKey = GAError(status: 400, code: "GA.9109", message: "Tag key is empty")

    /// 400 GA.9110: the same entry twice.
    public static func duplicateEntry(_ entry: String) -> GAError {
        GAError(status: 400, code: "GA.9110", message: "Duplicated entry: \(entry)")
    }

    /// 500 GA.9201: no address left in the pool.
    public static func noAddress(area: Area, ipType: IPType) -> GAError {
        GAError(status: 500, code: "GA.9201", message: "No available ip in common aip pool (\(area.rawValue) \(ipType.rawValue))")
    }

    /// 500 SYS.0500: an unexpected failure; details go to the log, not to the client.
    public static let internalError = GAError(status: 500, code: "SYS.0500", message: "There was an internal server error")

    /// 401 APIGW.0301: authentication failed.
    public static func unauthorized(_ reason: String) -> GAError {
        GAError(status: 401, code: "APIGW.0301", message: "Incorrect IAM authentication information: \(reason)")
    }

    /// 404 APIGW.0101: no such API.
    public static let noSuchAPI = GAError(
        status: 404,
        code: "APIGW.0101",
        message: "The API does not exist or has not been published in the environment"
    )

    /// 405 APIGW.0101: the path exists, the method does not.
    public static func methodNotAllowed(_ method: String) -> GAError {
        GAError(status: 405, code: "APIGW.0101", message: "Method \(method) is not allowed on this resource")
    }

    /// 413 GA.9001: the request body exceeds the configured limit.
    public static func bodyTooLarge(limit: Int) -> GAError {
        GAError(status: 413, code: "GA.9001", message: "Invalid body: larger than \(limit) bytes")
    }
}
