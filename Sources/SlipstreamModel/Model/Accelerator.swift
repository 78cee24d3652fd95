/// An address an accelerator owns (`AccelerateIp`).
public struct AcceleratorIP: Codable, Sendable, Equatable {
    public var ipType: IPType
    public var ipAddress: String
    public var area: Area

    public init(ipType: IPType, ipAddress: String, area: Area) {
        self.ipType = ipType
        self.ipAddress = ipAddress
        self.area = area
    }
}

/// Desired state of an accelerator.
public struct AcceleratorSpec: ResourceSpec, Equatable {
    public var quotaUnits: Int { self.ipSets.count }

    public static let kind = ResourceKind.accelerator

    public var description: String
    public var ipSets: [AcceleratorIP]
    public var enterpriseProjectID: String
    public var flavorID: String
    public var tags: [ResourceTag]

    public init(description: String, ipSets: [AcceleratorIP], enterpriseProjectID: String, flavorID: String, tags: [ResourceTag]) {
        self.description = description
        self.ipSets = ipSets
        self.enterpriseProjectID = enterpriseProjectID
        self.flavorID = flavorID
        self.tags = tags
    }
}

public typealias Accelerator = Resource<AcceleratorSpec>

/// Request options for create and update.
public enum AcceleratorOptions {
    public struct Create: Decodable, Sendable {
        public struct IPSet: Decodable, Sendable {
            public var ipType: IPType
            public var area: Area
            enum CodingKeys: String, CodingKey {
                case ipType = "ip_type"
                case area
            }
        }
        public var name: String
        public var description: String?
        public var ipSets: [IPSet]
        public var enterpriseProjectID: String
        public var tags: [ResourceTag]?
        enum CodingKeys: String, CodingKey {
            case name, description, tags
            case ipSets = "ip_sets"
            case enterpriseProjectID = "enterprise_project_id"
        }
    }

    public struct Update: Decodable, Sendable {
        public var name: String?
        public var description: String?
    }
}
