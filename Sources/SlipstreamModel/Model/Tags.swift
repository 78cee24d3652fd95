/// A resource whose spec carries tags (accelerators and listeners).
public protocol TaggableSpec: ResourceSpec {
    var tags: [ResourceTag] { get set }
}

extension AcceleratorSpec: TaggableSpec {}
extension ListenerSpec: TaggableSpec {}

/// A tag key with the values in use (`Tag`).
public struct TagValues: Codable, Sendable, Equatable {
    public var key: String
    public var values: [String]

    public init(key: String, values: [String]) {
        self.key = key
        self.values = values
    }
}

public enum TagOptions {
    public struct Create: Decodable, Sendable {
        public var tags: [ResourceTag]
    }

    public struct Delete: Decodable, Sendable {
        public struct Key: Decodable, Sendable { public var key: String }
        public var tags: [Key]
    }

    /// The body of `resource-instances/filter` and `/count`.
    public struct Filter: Decodable, Sendable {
        public struct Match: Decodable, Sendable {
            public var key: String
            public var value: String
        }
        public var tags: [TagValues]?
        public var matches: [Match]?

        public init(tags: [TagValues]? = nil, matches: [Match]? = nil) {
            self.tags = tags
            self.matches = matches
        }

        /// GA.9107/GA.9108/GA.9109 for repeated keys, repeated values of one key, empty keys.
        public func check() throws(GAError) {
            var keys = Set<String>()
            for tag in self.tags ?? [] {
                if tag.key.isEmpty { throw GAError.emptyTagKey }
                if !keys.insert(tag.key).inserted { throw GAError.duplicateTagKey }
                if Set(tag.values).count != tag.values.count { throw GAError.duplicateTagValue }
            }
        }

        /// Different keys must all match; any value of one key matches; a key without values matches any value.
        public func matches(tags: [ResourceTag], name: String) -> Bool {
            for filter in self.tags ?? [] {
                let values = tags.filter { $0.key == filter.key }.map(\.value)
                if values.isEmpty { return false }
                if !filter.values.isEmpty && !values.contains(where: filter.values.contains) { return false }
            }
            for match in self.matches ?? [] where match.key == "resource_name" && !match.value.isEmpty {
                if !name.contains(match.value) { return false }
            }
            return true
        }
    }
}

/// `ResourceTags`: a resource found by a tag query.
public struct ResourceTags: Encodable, Sendable {
    public var resourceID: String
    public var resourceName: String
    public var tags: [ResourceTag]

    public init(resourceID: String, resourceName: String, tags: [ResourceTag]) {
        self.resourceID = resourceID
        self.resourceName = resourceName
        self.tags = tags
    }
}
