import SlipstreamModel

extension ControlPlane {
    /// Adds tags to a resource; a key it already has takes the new value. A resource has at most 20 tags.
    public func addTags<S: TaggableSpec>(_ type: S.Type, domainID: String, id: String, _ tags: [ResourceTag]) async throws {
        try ResourceTag.check(tags)
        try await self.write { tx, _, now in
            var resource = try await Self.require(type, id, domainID: domainID, on: tx)
            var merged = resource.spec.tags
            for tag in tags {
                if let index = merged.firstIndex(where: { $0.key == tag.key }) { merged[index] = tag } else { merged.append(tag) }
            }
            if merged.count > 20 { throw GAError.invalid("tags", "a resource has at most 20 tags") }
            resource.spec.tags = merged
            resource.updatedAt = now
            try await tx.update(resource)
        }
    }

    /// Removes tags by key; keys the resource does not have are ignored.
    public func removeTags<S: TaggableSpec>(_ type: S.Type, domainID: String, id: String, keys: [String]) async throws {
        if keys.contains(where: \.isEmpty) { throw GAError.emptyTagKey }
        try await self.write { tx, _, now in
            var resource = try await Self.require(type, id, domainID: domainID, on: tx)
            resource.spec.tags.removeAll { keys.contains($0.key) }
            resource.updatedAt = now
            try await tx.update(resource)
        }
    }

    public func tags<S: TaggableSpec>(_ type: S.Type, domainID: String, id: String) async throws -> [ResourceTag] {
        try await self.read { tx in try await Self.require(type, id, domainID: domainID, on: tx).spec.tags }
    }

    /// Every resource of the caller of one kind, in id order.
    func all<S: ResourceSpec>(_ type: S.Type, domainID: String) async throws -> [Resource<S>] {
        try await self.read { tx in try await tx.all(type, domainID: domainID) }
    }

    /// The tag keys in use on a kind, each with its distinct values, sorted.
    public func tagKeys<S: TaggableSpec>(_ type: S.Type, domainID: String) async throws -> [TagValues] {
        var values: [String: Set<String>] = [:]
        for resource in try await self.all(type, domainID: domainID) {
            for tag in resource.spec.tags { values[tag.key, default: []].insert(tag.value) }
        }
        return values.keys.sorted().map { TagValues(key: $0, values: values[$0]!.sorted()) }
    }

    /// Resources of a kind matching a tag filter, in id order.
    public func resources<S: TaggableSpec>(_ type: S.Type, domainID: String, matching filter: TagOptions.Filter) async throws -> [ResourceTags] {
        try filter.check()
        return try await self.all(type, domainID: domainID)
            .filter { $0.status != .deleting && filter.matches(tags: $0.spec.tags, name: $0.name ?? "") }
            .map { ResourceTags(resourceID: $0.id, resourceName: $0.name ?? "", tags: $0.spec.tags) }
    }
}
