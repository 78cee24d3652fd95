/// Desired state of an endpoint group. Its parent is its one listener.
public struct EndpointGroupSpec: ResourceSpec, Equatable {
    public static let kind = ResourceKind.endpointGroup

    public var description: String
    public var trafficDialPercentage: Int
    public var regionID: String

    public init(description: String, trafficDialPercentage: Int, regionID: String) {
        self.description = description
        self.trafficDialPercentage = trafficDialPercentage
        self.regionID = regionID
    }
}

public typealias EndpointGroup = Resource<EndpointGroupSpec>

public enum EndpointGroupOptions {
    public struct Create: Decodable, Sendable {
        public var name: String
        public var description: String?
        public var trafficDialPercentage: Int?
        public var regionID: String
        public var listeners: [IDReference]
        enum CodingKeys: String, CodingKey {
            case name, description, listeners
            case trafficDialPercentage = "traffic_dial_percentage"
            case regionID = "region_id"
        }
    }

    public struct Update: Decodable, Sendable {
        public var name: String?
        public var description: String?
        public var trafficDialPercentage: Int?
        enum CodingKeys: String, CodingKey {
            case name, description
            case trafficDialPercentage = "traffic_dial_percentage"
        }
    }
}
