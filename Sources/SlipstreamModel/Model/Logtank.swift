/// Desired state of a logtank: access logs of one listener (its parent) go to the sink
/// `<data dir>/logs/<log_group_id>/<log_stream_id>.log`.
public struct LogtankSpec: ResourceSpec, Equatable {
    public static let kind = ResourceKind.logtank

    public var logGroupID: String
    public var logStreamID: String

    public init(logGroupID: String, logStreamID: String) {
        self.logGroupID = logGroupID
        self.logStreamID = logStreamID
    }

    /// Sink names become directory and file names: 1–64 letters, digits, `-`, `_` or `.`, not `.` or `..`.
    public static func checkSinkName(_ name: String, field: String) throws(GAError) {
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0))
        }
        guard !name.isEmpty, name.count <= 64, allowed, name != ".", name != ".." else {
            throw GAError.invalid(field, "must be 1-64 letters, digits, '-', '_' or '.'")
        }
    }
}

public typealias Logtank = Resource<LogtankSpec>

public enum LogtankOptions {
    public struct Create: Decodable, Sendable {
        public var resourceType: String
        public var resourceID: String
        public var logGroupID: String
        public var logStreamID: String
        enum CodingKeys: String, CodingKey {
            case resourceType = "resource_type"
            case resourceID = "resource_id"
            case logGroupID = "log_group_id"
            case logStreamID = "log_stream_id"
        }
    }

    public struct Update: Decodable, Sendable {
        public var logGroupID: String
        public var logStreamID: String
        enum CodingKeys: String, CodingKey {
            case logGroupID = "log_group_id"
            case logStreamID = "log_stream_id"
        }
    }
}
