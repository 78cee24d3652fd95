import SlipstreamModel
import Synchronization

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
                let address = try await self.allocateAddress(
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

    /// The first usable address of `blocks` (in pool order: block by block, each upwards) that no accelerator
    /// holds, or GA.9201.
    ///
    /// The search starts at the address this process handed out last in the pool: every address before it in pool
    /// order was held then. It asks about 32 candidates a query, so a create reads a few rows, not every held address. With
    /// no start (after this process started or removed an accelerator), or when 4 queries find nothing free, it
    /// reads every held address of the pool once. An address another replica frees below the start waits until this
    /// process next reads the pool whole; no address is ever held twice (the `addresses` primary key decides).
    func allocateAddress(_ blocks: [CIDR], area: Area, ipType: IPType, on tx: any StoreTransaction) async throws -> String {
        let pool = "\(area.rawValue)/\(ipType.rawValue)"
        if let start = self.addressFloors.start(of: pool), let at = blocks.firstIndex(where: { $0.contains(start) }) {
            // From `start` to the end of its block, then the blocks after it in pool order.
            let searched = [(blocks[at], start)] + blocks[(at + 1)...].map { ($0, $0.base) }
            var candidates = searched.lazy.flatMap { block, from in block.usableAddresses(from: from) }.makeIterator()
            for _ in 0..<4 {
                var batch: [String] = []
                while batch.count < 32, let next = candidates.next() { batch.append(next.description) }
                guard !batch.isEmpty else { break }
                let taken = try await tx.addressesTaken(among: batch)
                if let free = batch.first(where: { !taken.contains($0) }) {
                    self.addressFloors.set(pool, IPAddress(free)!)
                    return free
                }
            }
        }
        let used = try await tx.addressesInUse(area: area, ipType: ipType)
        for block in blocks {
            for address in block.usableAddresses where !used.contains(address.description) {
                self.addressFloors.set(pool, address)
                return address.description
            }
        }
        throw GAError.noAddress(area: area, ipType: ipType)
    }
}

/// Where each address pool's next search starts (by `area/ipType`): the address this process handed out last in
/// it. The address itself is searched again, so a write that handed it out and then rolled back loses nothing.
final class AddressFloors: Sendable {
    private let starts = Mutex<[String: IPAddress]>([:])

    func start(of pool: String) -> IPAddress? { self.starts.withLock { $0[pool] } }
    func set(_ pool: String, _ address: IPAddress) { self.starts.withLock { $0[pool] = address } }
    /// After a removal: the next search of every pool reads the held addresses whole.
    func clear() { self.starts.withLock { $0.removeAll() } }
}
