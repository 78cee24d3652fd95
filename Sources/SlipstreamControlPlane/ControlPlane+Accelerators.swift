import SlipstreamModel

extension ControlPlane {
    public func createAccelerator(domainID: String, _ options: AcceleratorOptions.Create) async throws -> Accelerator {
        let tags = options.tags ?? []
        try ResourceTag.check(tags)
        let id = self.ids.next()
        let settings = self.settings
        let quota = self.settings.quotas.acceleratorsPerAccount
        return try await self.write { tx, revision, now in
            if try await tx.count(.accelerator, domainID: domainID) >= quota {
                throw GAError.quota("accelerator_per_tenant (\(quota))")
            }
            var ipSets: [AcceleratorIP] = []
            for set in options.ipSets {
                let address = try await Self.allocateAddress(
                    settings.pool(area: set.area, ipType: set.ipType),
                    area: set.area,
                    ipType: set.ipType,
                    on: tx
                )
                try await tx.reserveAddress(address, acceleratorID: id, area: set.area, ipType: set.ipType)
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
            try await tx.insert(accelerator)
            return accelerator
        }
    }

    public func accelerator(domainID: String, id: String) async throws -> Accelerator {
        try await self.read { tx in try await Self.require(AcceleratorSpec.self, id, domainID: domainID, on: tx) }
    }

    public func accelerators(domainID: String, query: ListQuery) async throws -> Page<AcceleratorSpec> {
        try await self.read { tx in try await tx.list(AcceleratorSpec.self, domainID: domainID, query: query) }
    }

    public func updateAccelerator(domainID: String, id: String, _ options: AcceleratorOptions.Update) async throws -> Accelerator {
        try await self.write { tx, revision, now in
            var accelerator = try await Self.requireOperable(AcceleratorSpec.self, id, domainID: domainID, on: tx)
            if let name = options.name { accelerator.name = name }
            if let description = options.description { accelerator.spec.description = description }
            (accelerator.status, accelerator.revision, accelerator.updatedAt) = (.pending, revision, now)
            try await tx.update(accelerator)
            return accelerator
        }
    }

    public func deleteAccelerator(domainID: String, id: String) async throws {
        try await self.markDeleting(AcceleratorSpec.self, id, domainID: domainID, blockedBy: [.listener])
    }

    /// The first usable address of `blocks` that no accelerator holds, or GA.9201.
    static func allocateAddress(_ blocks: [CIDR], area: Area, ipType: IPType, on tx: any StoreTransaction) async throws -> String {
        let used = try await tx.addressesInUse(area: area, ipType: ipType)
        for block in blocks {
            for address in block.usableAddresses where !used.contains(address.description) {
                return address.description
            }
        }
        throw GAError.noAddress(area: area, ipType: ipType)
    }
}
