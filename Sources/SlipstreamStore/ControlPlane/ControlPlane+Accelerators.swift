import SQLKit
import SlipstreamCore

extension ControlPlane {
    public func createAccelerator(domainID: String, _ options: AcceleratorOptions.Create) async throws -> Accelerator {
        let tags = options.tags ?? []
        try ResourceTag.check(tags)
        let id = self.ids.next()
        let pools = self.configuration.pools
        let quota = self.configuration.quotas.acceleratorsPerAccount
        return try await self.write { db, revision, now in
            if try await ResourceRepository.count(.accelerator, domainID: domainID, on: db) >= quota {
                throw GAError.quota("accelerator_per_tenant (\(quota))")
            }
            var ipSets: [AcceleratorIP] = []
            for set in options.ipSets {
                let address = try await Self.allocateAddress(pools["\(set.area)/\(set.ipType)"] ?? [], area: set.area, ipType: set.ipType, on: db)
                try await db.raw(
                    """
                    INSERT INTO addresses (ip_address, accelerator_id, area, ip_type)
                    VALUES (\(bind: address), \(bind: id), \(bind: set.area), \(bind: set.ipType))
                    """
                ).run()
                ipSets.append(AcceleratorIP(ipType: set.ipType, ipAddress: address, area: set.area))
            }
            let spec = AcceleratorSpec(
                description: options.description ?? "",
                ipSets: ipSets,
                enterpriseProjectID: options.enterpriseProjectID,
                flavorID: "default",
                tags: tags
            )
            let accelerator = Accelerator(
                id: id,
                domainID: domainID,
                parentID: nil,
                name: options.name,
                status: .pending,
                revision: revision,
                createdAt: now,
                updatedAt: now,
                spec: spec
            )
            try await ResourceRepository.insert(accelerator, on: db)
            return accelerator
        }
    }

    public func accelerator(domainID: String, id: String) async throws -> Accelerator {
        try await self.read { db in try await Self.require(AcceleratorSpec.self, id, domainID: domainID, on: db) }
    }

    public func accelerators(domainID: String, query: ListQuery) async throws -> Page<AcceleratorSpec> {
        try await self.read { db in try await ResourceRepository.list(AcceleratorSpec.self, domainID: domainID, query: query, on: db) }
    }

    public func updateAccelerator(domainID: String, id: String, _ options: AcceleratorOptions.Update) async throws -> Accelerator {
        try await self.write { db, revision, now in
            var accelerator = try await Self.requireOperable(AcceleratorSpec.self, id, domainID: domainID, on: db)
            if let name = options.name { accelerator.name = name }
            if let description = options.description { accelerator.spec.description = description }
            (accelerator.status, accelerator.revision, accelerator.updatedAt) = (.pending, revision, now)
            try await ResourceRepository.update(accelerator, on: db)
            return accelerator
        }
    }

    public func deleteAccelerator(domainID: String, id: String) async throws {
        try await self.markDeleting(AcceleratorSpec.self, id, domainID: domainID, blockedBy: [.listener])
    }

    /// The first usable address of `blocks` that no accelerator holds, or GA.9201.
    static func allocateAddress(_ blocks: [CIDR], area: String, ipType: String, on db: any SQLDatabase) async throws -> String {
        let used = Set(
            try await db.raw("SELECT ip_address FROM addresses WHERE area = \(bind: area) AND ip_type = \(bind: ipType)").all()
                .map { try $0.decode(column: "ip_address", as: String.self) }
        )
        for block in blocks {
            for address in block.usableAddresses where !used.contains(address.description) {
                return address.description
            }
        }
        throw GAError.noAddress(area: area, ipType: ipType)
    }
}
