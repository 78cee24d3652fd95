/// The GA API's enumerations, with the API's spellings as raw values (so the JSON on the wire and in the store is
/// the API's own). Values are checked against the request schema before a body is decoded into them.

/// `ListenerProtocol`: what a listener forwards.
public enum ListenerProtocol: String, Codable, Sendable, CaseIterable {
    case tcp = "TCP"
    case udp = "UDP"

    /// The port the platform keeps for itself on this protocol (22/TCP for SSH, 4789/UDP for VXLAN), which no
    /// listener may take (GA API reference, `port_ranges`).
    public var reservedPort: Int {
        switch self {
        case .tcp: 22
        case .udp: 4789
        }
    }
}

/// `ClientAffinity`: whether a client's flows stick to one endpoint.
public enum ClientAffinity: String, Codable, Sendable, CaseIterable {
    /// Flows of one client IP go to the same endpoint while it stays eligible.
    case sourceIP = "SOURCE_IP"
    case none = "NONE"
}

/// `ListenerAccessControlType`: how a listener uses its IP group.
public enum AccessControlType: String, Codable, Sendable, CaseIterable {
    /// Only clients in the group may connect.
    case allow = "WHITE"
    /// Clients in the group may not connect.
    case deny = "BLACK"
}

/// `IpType`: the address family of an accelerator's IP set.
public enum IPType: String, Codable, Sendable, CaseIterable {
    case ipv4 = "IPV4"
    case ipv6 = "IPV6"
}

/// `Area`: where an accelerator's addresses are announced.
public enum Area: String, Codable, Sendable, CaseIterable {
    /// Outside the Chinese mainland.
    case outsideChineseMainland = "OUTOFCM"
    /// The Chinese mainland.
    case chineseMainland = "CM"
}

/// `EndpointType`: what an endpoint is.
public enum EndpointType: String, Codable, Sendable, CaseIterable {
    case eip = "EIP"
    case ecs = "ECS"
    case elb = "ELB"
    case customIP = "CUSTOM_IP"
    /// A domain name, resolved by the data plane.
    case customDomainName = "CUSTOM_DOMAIN_NAME"
    case customEIP = "CUSTOM_EIP"
}

/// `HealthCheckProtocol`: how endpoints are probed.
public typealias HealthCheckProtocol = ListenerProtocol
