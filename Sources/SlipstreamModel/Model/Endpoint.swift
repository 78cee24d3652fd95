/// Health of an endpoint as the API reports it.
public enum HealthState: String, Sendable, Codable {
    case initial = "INITIAL"
    case healthy = "HEALTHY"
    case unhealthy = "UNHEALTHY"
    case noMonitor = "NO_MONITOR"
}

/// Desired state of an endpoint. Its parent is its endpoint group.
public struct EndpointSpec: ResourceSpec, Equatable {
    public static let kind = ResourceKind.endpoint

    public var resourceID: String
    public var resourceType: EndpointType
    public var weight: Int
    public var ipAddress: String

    public init(resourceID: String, resourceType: EndpointType, weight: Int, ipAddress: String) {
        self.resourceID = resourceID
        self.resourceType = resourceType
        self.weight = weight
        self.ipAddress = ipAddress
    }
}

public typealias Endpoint = Resource<EndpointSpec>

public enum EndpointOptions {
    public struct Create: Decodable, Sendable {
        public var resourceID: String
        public var resourceType: EndpointType
        public var weight: Int?
        public var ipAddress: String
        enum CodingKeys: String, CodingKey {
            case weight
            case resourceID = "resource_id"
            case resourceType = "resource_type"
            case ipAddress = "ip_address"
        }

        /// `ip_address` must be an IP address, or a domain name for `CUSTOM_DOMAIN_NAME` endpoints.
        public func checkAddress() throws(GAError) {
            if self.resourceType == .customDomainName {
                guard IPAddress(self.ipAddress) != nil || Self.isDomainName(self.ipAddress) else {
                    throw GAError.invalid("endpoint.ip_address", "must be a domain name or an IP address")
                }
            } else if IPAddress(self.ipAddress) == nil {
                throw GAError.invalid("endpoint.ip_address", "must be an IPv4 or IPv6 address")
            }
        }

        static func isDomainName(_ name: String) -> Bool {
            let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
            guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { return false }
            return trimmed.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                label.count >= 1 && label.count <= 63 && label.first != "-" && label.last != "-"
                    && label.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
            }
        }
    }

    public struct Update: Decodable, Sendable {
        public var weight: Int?
    }
}
