/// An inclusive range of ports.
public struct PortRange: Codable, Sendable, Equatable {
    public var fromPort: Int
    public var toPort: Int

    public init(fromPort: Int, toPort: Int) {
        self.fromPort = fromPort
        self.toPort = toPort
    }

    enum CodingKeys: String, CodingKey {
        case fromPort = "from_port"
        case toPort = "to_port"
    }

    /// Ports in the range, both ends included.
    public var count: Int { max(0, self.toPort - self.fromPort + 1) }

    /// Ports in all of `ranges`.
    public static func portCount(_ ranges: [PortRange]) -> Int { ranges.reduce(0) { $0 + $1.count } }

    public func overlaps(_ other: PortRange) -> Bool {
        self.fromPort <= other.toPort && other.fromPort <= self.toPort
    }

    /// Checks a listener's own ranges: each ordered, none overlapping another, none on a port the platform keeps.
    public static func check(_ ranges: [PortRange], protocol proto: ListenerProtocol) throws(GAError) {
        for (index, range) in ranges.enumerated() {
            if range.toPort < range.fromPort {
                throw GAError.invalid("port_ranges[\(index)].to_port", "must be greater than or equal to from_port")
            }
            let reserved = proto.reservedPort
            if range.fromPort <= reserved && reserved <= range.toPort {
                throw GAError.portRanges("port \(reserved)/\(proto.rawValue) is used by the system")
            }
            for other in ranges[..<index] where other.overlaps(range) {
                throw GAError.portRanges("ranges \(other.fromPort)-\(other.toPort) and \(range.fromPort)-\(range.toPort) overlap")
            }
        }
    }
}

/// Desired state of a listener.
public struct ListenerSpec: ResourceSpec, Equatable {
    public var quotaUnits: Int { PortRange.portCount(self.portRanges) }

    public static let kind = ResourceKind.listener

    public var description: String
    public var `protocol`: ListenerProtocol
    public var portRanges: [PortRange]
    public var clientAffinity: ClientAffinity
    public var tags: [ResourceTag]

    public init(description: String, protocol: ListenerProtocol, portRanges: [PortRange], clientAffinity: ClientAffinity, tags: [ResourceTag]) {
        self.description = description
        self.protocol = `protocol`
        self.portRanges = portRanges
        self.clientAffinity = clientAffinity
        self.tags = tags
    }
}

public typealias Listener = Resource<ListenerSpec>

public enum ListenerOptions {
    public struct Create: Decodable, Sendable {
        public var name: String
        public var description: String?
        public var `protocol`: ListenerProtocol
        public var portRanges: [PortRange]
        public var clientAffinity: ClientAffinity?
        public var acceleratorID: String
        public var tags: [ResourceTag]?
        enum CodingKeys: String, CodingKey {
            case name, description, `protocol`, tags
            case portRanges = "port_ranges"
            case clientAffinity = "client_affinity"
            case acceleratorID = "accelerator_id"
        }
    }

    public struct Update: Decodable, Sendable {
        public var name: String?
        public var description: String?
        public var portRanges: [PortRange]?
        public var clientAffinity: ClientAffinity?
        enum CodingKeys: String, CodingKey {
            case name, description
            case portRanges = "port_ranges"
            case clientAffinity = "client_affinity"
        }
    }
}
