import SlipstreamModel
import Synchronization

/// A ``ControlPlaneStore`` in memory, for tests of the control plane's rules without SQL or files.
///
/// A write transaction works on a copy of the state and publishes it when its body returns (so a throwing body
/// changes nothing); write transactions run one at a time. Reads see the last published state.
public final class InMemoryStore: ControlPlaneStore {
    struct Row: Sendable {
        var kind: ResourceKind
        var id: String
        var domainID: String
        var parentID: String?
        var name: String?
        var status: ResourceStatus
        var revision: Int64
        var createdAt: String
        var updatedAt: String
        var healthState: HealthState?
        var spec: any ResourceSpec

        func resource<S: ResourceSpec>(_: S.Type) -> Resource<S>? {
            guard let spec = self.spec as? S else { return nil }
            return Resource(
                id: self.id,
                domainID: self.domainID,
                parentID: self.parentID,
                name: self.name,
                status: self.status,
                revision: self.revision,
                createdAt: self.createdAt,
                updatedAt: self.updatedAt,
                healthState: self.healthState,
                spec: spec
            )
        }
    }

    struct Address: Sendable {
        var acceleratorID: String
        var area: Area
        var ipType: IPType
    }

    struct State: Sendable {
        var revision: Int64 = 0
        var removedThrough: Int64 = 0
        /// Resources by id.
        var rows: [String: Row] = [:]
        /// Accelerator addresses by address.
        var addresses: [String: Address] = [:]
        var accounts: [String: StoredAccount] = [:]
        /// Access keys: the sealed secret and the owning domain id.
        var accessKeys: [String: (sealedSecret: String, domainID: String)] = [:]
        var pops: [String: StoredPoP] = [:]
    }

    private let state = Mutex(State())
    private let writers = WriterQueue()

    public init() {}

    public func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        try await self.writers.run {
            let transaction = Transaction(self.state.withLock { $0 })
            let result = try await body(transaction)
            let committed = transaction.state.withLock { $0 }
            self.state.withLock { $0 = committed }
            return result
        }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        try await body(Transaction(self.state.withLock { $0 }))
    }

    public func close() async throws {}

    /// Runs write bodies one at a time, in arrival order.
    actor WriterQueue {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
            if self.busy {
                await withCheckedContinuation { self.waiting.append($0) }
            } else {
                self.busy = true
            }
            defer {
                if self.waiting.isEmpty { self.busy = false } else { self.waiting.removeFirst().resume() }
            }
            return try await body()
        }
    }

    /// One transaction's private copy of the state.
    final class Transaction: StoreTransaction {
        let state: Mutex<State>

        init(_ state: State) {
            self.state = Mutex(state)
        }

        private func rows(where include: (Row) -> Bool) -> [Row] {
            self.state.withLock { $0.rows.values.filter(include) }.sorted { $0.id < $1.id }
        }

        func find<S: ResourceSpec>(_ type: S.Type, id: String, domainID: String) async throws -> Resource<S>? {
            self.state.withLock { $0.rows[id] }.flatMap { $0.domainID == domainID ? $0.resource(type) : nil }
        }

        func find<S: ResourceSpec>(_ type: S.Type, id: String) async throws -> Resource<S>? {
            self.state.withLock { $0.rows[id] }.flatMap { $0.resource(type) }
        }

        func list<S: ResourceSpec>(_ type: S.Type, domainID: String, query: ListQuery) async throws -> Page<S> {
            var items = self.rows { row in
                row.kind == S.kind && row.domainID == domainID && query.id.map { row.id == $0 } ?? true
                    && query.name.map { row.name == $0 } ?? true && query.status.map { row.status == $0 } ?? true
                    && query.parentID.map { row.parentID == $0 } ?? true
                    && query.enterpriseProjectID.map { ($0 as String?) == (row.spec as? AcceleratorSpec)?.enterpriseProjectID } ?? true
                    && query.marker.map { query.pageReverse ? row.id < $0 : row.id > $0 } ?? true
            }
            if query.pageReverse { items.reverse() }
            let page = Page(slicing: items.compactMap { $0.resource(type) }, limit: query.limit)
            return page
        }

        func count(_ kind: ResourceKind, domainID: String, parentID: String?) async throws -> Int {
            self.rows { $0.kind == kind && $0.domainID == domainID && (parentID == nil || $0.parentID == parentID) }.count
        }

        func children<S: ResourceSpec>(_ type: S.Type, of parentID: String) async throws -> [Resource<S>] {
            self.rows { $0.kind == S.kind && $0.parentID == parentID }.compactMap { $0.resource(type) }
        }

        func live<S: ResourceSpec>(_ type: S.Type) async throws -> [Resource<S>] {
            self.rows { $0.kind == S.kind && $0.status != .deleting }.compactMap { $0.resource(type) }
        }

        func changed<S: ResourceSpec>(_ type: S.Type, since revision: Int64) async throws -> [Resource<S>] {
            self.rows { $0.kind == S.kind && $0.revision > revision }.compactMap { $0.resource(type) }
        }

        func listenerPorts(domainID: String, except listenerID: String?) async throws -> Int {
            let rows = self.state.withLock { $0.rows }
            return rows.values.filter { $0.kind == .listener && $0.domainID == domainID && $0.id != listenerID }.reduce(0) { sum, listener in
                sum + listener.spec.quotaUnits * (listener.parentID.flatMap { rows[$0]?.spec.quotaUnits } ?? 1)
            }
        }

        func removedThrough() async throws -> Int64 {
            self.state.withLock { $0.removedThrough }
        }

        func liveCount(_ kind: ResourceKind) async throws -> Int {
            self.rows { $0.kind == kind && $0.status != .deleting }.count
        }

        func insert<S: ResourceSpec>(_ resource: Resource<S>) async throws {
            try self.state.withLock { state in
                guard state.rows[resource.id] == nil else { throw GAError.alreadyExists("resource \(resource.id)") }
                state.rows[resource.id] = Self.row(resource)
            }
        }

        func update<S: ResourceSpec>(_ resource: Resource<S>) async throws {
            self.state.withLock { state in
                guard let existing = state.rows[resource.id], existing.kind == S.kind, existing.domainID == resource.domainID else { return }
                var row = Self.row(resource)
                row.parentID = existing.parentID
                row.createdAt = existing.createdAt
                state.rows[resource.id] = row
            }
        }

        func setStatus(_ kind: ResourceKind, id: String, _ status: ResourceStatus, revision: Int64, updatedAt: String?) async throws {
            self.state.withLock { state in
                guard state.rows[id]?.kind == kind else { return }
                state.rows[id]?.status = status
                state.rows[id]?.revision = revision
                if let updatedAt { state.rows[id]?.updatedAt = updatedAt }
            }
        }

        func setHealthState(ofEndpointsIn groupID: String, to health: HealthState) async throws {
            self.state.withLock { state in
                for (id, row) in state.rows where row.kind == .endpoint && row.parentID == groupID {
                    state.rows[id]?.healthState = health
                }
            }
        }

        func remove(_ kind: ResourceKind, id: String) async throws {
            self.state.withLock { state in
                guard let row = state.rows[id], row.kind == kind else { return }
                state.removedThrough = max(state.removedThrough, row.revision)
                state.rows[id] = nil
                if kind == .accelerator { state.addresses = state.addresses.filter { $0.value.acceleratorID != id } }
            }
        }

        func unsettled(atOrBefore revision: Int64, orAmong ids: Set<String>) async throws -> [ResourceState] {
            self.rows { $0.revision <= revision && ($0.status != .active || ids.contains($0.id)) }
                .map { ResourceState(kind: $0.kind, id: $0.id, status: $0.status, revision: $0.revision) }
        }

        func nextRevision() async throws -> Int64 {
            self.state.withLock { state in
                state.revision += 1
                return state.revision
            }
        }

        func currentRevision() async throws -> Int64 {
            self.state.withLock { $0.revision }
        }

        func addressesInUse(area: Area, ipType: IPType) async throws -> Set<String> {
            Set(self.state.withLock { $0.addresses.filter { $0.value.area == area && $0.value.ipType == ipType }.keys })
        }

        func addressesTaken(among addresses: [String]) async throws -> Set<String> {
            self.state.withLock { state in Set(addresses.filter { state.addresses[$0] != nil }) }
        }

        func reserveAddress(_ address: String, acceleratorID: String, area: Area, ipType: IPType) async throws {
            try self.state.withLock { state in
                guard state.addresses[address] == nil else { throw GAError.alreadyExists("address \(address)") }
                state.addresses[address] = Address(acceleratorID: acceleratorID, area: area, ipType: ipType)
            }
        }

        func insertAccount(_ account: StoredAccount, accessKey: String, sealedSecret: String, createdAt: String) async throws {
            try self.state.withLock { state in
                let name = account.caller.domainName
                if state.accounts.values.contains(where: { $0.caller.domainName == name }) {
                    throw GAError(status: 409, code: "IAM.0001", message: "account \(name) already exists")
                }
                state.accounts[account.caller.domainID] = account
                state.accessKeys[accessKey] = (sealedSecret, account.caller.domainID)
            }
        }

        func account(domainID: String) async throws -> StoredAccount? {
            self.state.withLock { $0.accounts[domainID] }
        }

        func account(domainName: String, userName: String) async throws -> StoredAccount? {
            self.state.withLock { state in
                state.accounts.values.first { $0.caller.domainName == domainName && $0.caller.userName == userName }
            }
        }

        func accessKey(_ accessKey: String) async throws -> (sealedSecret: String, account: StoredAccount)? {
            self.state.withLock { state in
                guard let key = state.accessKeys[accessKey], let account = state.accounts[key.domainID] else { return nil }
                return (key.sealedSecret, account)
            }
        }

        func accountCount() async throws -> Int {
            self.state.withLock { $0.accounts.count }
        }

        func insertPoP(_ pop: StoredPoP) async throws {
            try self.state.withLock { state in
                guard state.pops[pop.id] == nil else { throw GAError.alreadyExists("PoP \(pop.id)") }
                state.pops[pop.id] = pop
            }
        }

        func pop(id: String) async throws -> StoredPoP? {
            self.state.withLock { $0.pops[id] }
        }

        func pops() async throws -> [StoredPoP] {
            self.state.withLock { $0.pops.values.sorted { $0.id < $1.id } }
        }

        func recordRemoteReport(_ report: PoPReport, popID: String, secretHash: String, seenAtMilliseconds: Int64) async throws -> Bool {
            self.state.withLock { state in
                guard var pop = state.pops[popID], pop.secretHash == secretHash else { return false }
                pop.lastSeenMilliseconds = seenAtMilliseconds
                pop.report = report
                state.pops[popID] = pop
                return true
            }
        }

        func deletePoP(id: String) async throws -> Bool {
            self.state.withLock { $0.pops.removeValue(forKey: id) != nil }
        }

        func setPoPSecret(id: String, secretHash: String) async throws -> Bool {
            self.state.withLock { state in
                guard state.pops[id] != nil else { return false }
                state.pops[id]?.secretHash = secretHash
                return true
            }
        }

        func recordReport(_ report: PoPReport, popID: String, regionID: String, seenAtMilliseconds: Int64) async throws {
            self.state.withLock { state in
                var pop = state.pops[popID] ?? StoredPoP(id: popID, regionID: regionID, secretHash: nil, createdAt: Timestamp.now())
                pop.lastSeenMilliseconds = seenAtMilliseconds
                pop.report = report
                state.pops[popID] = pop
            }
        }

        private static func row<S: ResourceSpec>(_ resource: Resource<S>) -> Row {
            Row(
                kind: S.kind,
                id: resource.id,
                domainID: resource.domainID,
                parentID: resource.parentID,
                name: resource.name,
                status: resource.status,
                revision: resource.revision,
                createdAt: resource.createdAt,
                updatedAt: resource.updatedAt,
                healthState: resource.healthState,
                spec: resource.spec
            )
        }
    }
}
