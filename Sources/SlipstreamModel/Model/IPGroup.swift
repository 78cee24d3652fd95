import Foundation

/// One CIDR entry of an IP group (`IpInfo`).
public struct IPGroupEntry: Codable, Sendable, Equatable {
    public var cidr: String
    public var description: String
    public var createdAt: String

    public init(cidr: String, description: String, createdAt: String) {
        self.cidr = cidr
        self.description = description
        self.createdAt = createdAt
    }
}

/// A listener an IP group is bound to, as an allow (`WHITE`) or deny (`BLACK`) list.
public struct ListenerAccessControl: Codable, Sendable, Equatable {
    public var listenerID: String
    public var type: AccessControlType

    public init(listenerID: String, type: AccessControlType) {
        self.listenerID = listenerID
        self.type = type
    }

    enum CodingKeys: String, CodingKey {
        case listenerID = "listener_id"
        case type
    }
}

/// Desired state of an IP address group.
public struct IPGroupSpec: ResourceSpec, Equatable {
    public static let kind = ResourceKind.ipGroup

    public var description: String
    public var ipList: [IPGroupEntry]
    public var associatedListeners: [ListenerAccessControl]

    public init(description: String, ipList: [IPGroupEntry], associatedListeners: [ListenerAccessControl]) {
        self.description = description
        self.ipList = ipList
        self.associatedListeners = associatedListeners
    }

    /// Limits of IP groups (not adjustable in GA either).
    public static let maxEntries = 200
    public static let maxListeners = 10
}

public typealias IPGroup = Resource<IPGroupSpec>

public enum IPGroupOptions {
    public struct Entry: Decodable, Sendable {
        public var cidr: String
        public var description: String?
    }

    public struct Create: Decodable, Sendable {
        public var name: String
        public var description: String?
        public var ipList: [Entry]?
        enum CodingKeys: String, CodingKey {
            case name, description
            case ipList = "ip_list"
        }
    }

    public struct Update: Decodable, Sendable {
        public var name: String?
        public var description: String?
    }

    public struct AddIPs: Decodable, Sendable {
        public var ipList: [Entry]
        enum CodingKeys: String, CodingKey { case ipList = "ip_list" }
    }

    public struct RemoveIPs: Decodable, Sendable {
        public var ipList: [String]
        enum CodingKeys: String, CodingKey { case ipList = "ip_list" }
    }

    public struct Associate: Decodable, Sendable {
        public var listenerID: String
        public var type: AccessControlType
        enum CodingKeys: String, CodingKey {
            case listenerID = "listener_id"
            case type
        }
    }

    public struct Disassociate: Decodable, Sendable {
        public var listenerID: String
        enum CodingKeys: String, CodingKey { case listenerID = "listener_id" }
    }

    /// Parses and normalises CIDRs (a plain address counts as a /32 or /128): GA.9001 for a bad one, GA.9110
    /// for one given twice or already in `existing`.
    public static func normalise(_ entries: [Entry], field: String, existing: [IPGroupEntry] = [], now: String) throws(GAError) -> [IPGroupEntry] {
        var seen = Set(existing.map(\.cidr))
        var result: [IPGroupEntry] = []
        for (index, entry) in entries.enumerated() {
            guard let block = CIDR(parsing: entry.cidr.trimmingCharacters(in: .whitespaces)) else {
                throw GAError.invalid("\(field)[\(index)].cidr", "\(entry.cidr) is not an IPv4 or IPv6 CIDR block")
            }
            guard seen.insert(block.description).inserted else { throw GAError.duplicateEntry(block.description) }
            result.append(IPGroupEntry(cidr: block.description, description: entry.description ?? "", createdAt: now))
        }
        return result
    }
}
