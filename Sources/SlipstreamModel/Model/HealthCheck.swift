/// Desired state of an endpoint group's health check. Its parent is the endpoint group.
public struct HealthCheckSpec: ResourceSpec, Equatable {
    public static let kind = ResourceKind.healthCheck

    public var `protocol`: HealthCheckProtocol
    public var port: Int
    public var interval: Int
    public var timeout: Int
    public var maxRetries: Int
    public var enabled: Bool

    public init(protocol: HealthCheckProtocol, port: Int, interval: Int, timeout: Int, maxRetries: Int, enabled: Bool) {
        self.protocol = `protocol`
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self.maxRetries = maxRetries
        self.enabled = enabled
    }

    /// A probe must give up before the next one starts.
    public func check() throws(GAError) {
        if self.timeout > self.interval {
            throw GAError.invalid("health_check.timeout", "must not be greater than interval (\(self.interval))")
        }
    }
}

public typealias HealthCheck = Resource<HealthCheckSpec>

public enum HealthCheckOptions {
    public struct Create: Decodable, Sendable {
        public var endpointGroupID: String
        public var `protocol`: HealthCheckProtocol
        public var port: Int
        public var interval: Int
        public var timeout: Int
        public var maxRetries: Int
        public var enabled: Bool
        enum CodingKeys: String, CodingKey {
            case `protocol`, port, interval, timeout, enabled
            case endpointGroupID = "endpoint_group_id"
            case maxRetries = "max_retries"
        }
    }

    public struct Update: Decodable, Sendable {
        public var `protocol`: HealthCheckProtocol?
        public var port: Int?
        public var interval: Int?
        public var timeout: Int?
        public var maxRetries: Int?
        public var enabled: Bool?
        enum CodingKeys: String, CodingKey {
            case `protocol`, port, interval, timeout, enabled
            case maxRetries = "max_retries"
        }
    }
}
