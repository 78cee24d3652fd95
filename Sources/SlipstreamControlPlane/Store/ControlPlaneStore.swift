import SlipstreamModel

/// Where the control plane keeps its state: resources, allocated addresses, accounts and the configuration
/// revision. `SlipstreamStore` implements it on SQL (SQLite, PostgreSQL); ``InMemoryStore`` implements it for rule
/// tests. The control plane's rules see only these calls, never SQL.
public protocol ControlPlaneStore: Sendable {
    /// Runs `body` in one write transaction: committed if it returns, rolled back if it throws. Write transactions
    /// of one store run one at a time.
    func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T
    /// Runs `body` against a consistent read view.
    func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T
    func close() async throws
}

/// The calls one transaction offers. Resource calls are scoped to one account (`domainID`) unless they say
/// otherwise; that scope is what keeps accounts apart.
public protocol StoreTransaction: Sendable {
    /// A resource of one kind and account, or nil.
    func find<S: ResourceSpec>(_ type: S.Type, id: String, domainID: String) async throws -> Resource<S>?
    /// A resource of one kind in any account, or nil (for reports of the data plane, which knows no accounts).
    func find<S: ResourceSpec>(_ type: S.Type, id: String) async throws -> Resource<S>?
    /// One page of an account's resources of one kind, in id order (reversed with `pageReverse`).
    func list<S: ResourceSpec>(_ type: S.Type, domainID: String, query: ListQuery) async throws -> Page<S>
    /// The listener ports account `domainID` holds: over its listeners (but `except`), each one's ports times its
    /// accelerator's addresses (``ResourceSpec/quotaUnits``). Deleting listeners count until they are gone.
    func listenerPorts(domainID: String, except listenerID: String?) async throws -> Int
    /// How many resources of a kind an account has, optionally only under `parentID`.
    func count(_ kind: ResourceKind, domainID: String, parentID: String?) async throws -> Int
    /// Resources of one kind under `parentID`, deleting ones included, in id order.
    func children<S: ResourceSpec>(_ type: S.Type, of parentID: String) async throws -> [Resource<S>]
    /// Every resource of a kind, of all accounts, that is not `DELETING`, in id order.
    func live<S: ResourceSpec>(_ type: S.Type) async throws -> [Resource<S>]
    /// Every resource of a kind, of all accounts, written after `revision`, `DELETING` ones included, in id order:
    /// what an incremental snapshot re-reads.
    func changed<S: ResourceSpec>(_ type: S.Type, since revision: Int64) async throws -> [Resource<S>]
    /// How many resources of a kind, of all accounts, are not `DELETING`.
    func liveCount(_ kind: ResourceKind) async throws -> Int
    /// The highest revision (of its last write) of any resource removed so far; 0 when none was. A resource live at
    /// revision R can only be removed after a write past R marks it `DELETING`, so a snapshot built at a revision at
    /// or past this value holds no resource that is gone.
    func removedThrough() async throws -> Int64
    func insert<S: ResourceSpec>(_ resource: Resource<S>) async throws
    /// Writes back name, status, revision, `updatedAt`, health and spec.
    func update<S: ResourceSpec>(_ resource: Resource<S>) async throws
    /// Sets the status and revision of a resource of any account, and its `updatedAt` unless that is nil.
    func setStatus(_ kind: ResourceKind, id: String, _ status: ResourceStatus, revision: Int64, updatedAt: String?) async throws
    /// Sets the health of every endpoint of an endpoint group.
    func setHealthState(ofEndpointsIn groupID: String, to state: HealthState) async throws
    /// Removes a resource of any account; an accelerator's addresses are released with it.
    func remove(_ kind: ResourceKind, id: String) async throws
    /// Resources of all accounts written at or before `revision` whose status a PoP report can change: those not
    /// `ACTIVE`, and the `ACTIVE` ones among `ids`.
    func unsettled(atOrBefore revision: Int64, orAmong ids: Set<String>) async throws -> [ResourceState]

    /// Bumps and returns the configuration revision; every committed write carries a new one.
    func nextRevision() async throws -> Int64
    func currentRevision() async throws -> Int64

    /// Addresses held by accelerators in one area and IP type.
    func addressesInUse(area: Area, ipType: IPType) async throws -> Set<String>
    /// Those of `addresses` some accelerator holds.
    func addressesTaken(among addresses: [String]) async throws -> Set<String>
    /// Records that `acceleratorID` holds `address`; throws if any accelerator holds it already.
    func reserveAddress(_ address: String, acceleratorID: String, area: Area, ipType: IPType) async throws

    /// Adds an account with its first access key; throws GA IAM.0001 (409) when the domain name is taken.
    func insertAccount(_ account: StoredAccount, accessKey: String, sealedSecret: String, createdAt: String) async throws
    func account(domainID: String) async throws -> StoredAccount?
    func account(domainName: String, userName: String) async throws -> StoredAccount?
    /// The sealed secret of an access key and the account that owns it, or nil.
    func accessKey(_ accessKey: String) async throws -> (sealedSecret: String, account: StoredAccount)?
    func accountCount() async throws -> Int

    /// Registers a PoP; throws GA.9104 when the id is taken.
    func insertPoP(_ pop: StoredPoP) async throws
    /// A PoP by id, or nil.
    func pop(id: String) async throws -> StoredPoP?
    /// Every PoP, in id order.
    func pops() async throws -> [StoredPoP]
    /// Records a remote PoP's report when the PoP is still registered with the secret hash it authenticated with;
    /// false (and nothing written) when it was deleted or its token replaced meanwhile.
    func recordRemoteReport(_ report: PoPReport, popID: String, secretHash: String, seenAtMilliseconds: Int64) async throws -> Bool
    /// Removes a PoP with its last report; false when there was none.
    func deletePoP(id: String) async throws -> Bool
    /// Replaces a PoP's secret hash (a new token); false when there is no such PoP.
    func setPoPSecret(id: String, secretHash: String) async throws -> Bool
    /// Records a PoP's report and when it arrived; registers the PoP (without a credential) when it is unknown,
    /// as the PoP embedded in `serve` is.
    func recordReport(_ report: PoPReport, popID: String, regionID: String, seenAtMilliseconds: Int64) async throws
}

/// A PoP as the control plane knows it: its credential and its last report.
public struct StoredPoP: Sendable, Equatable {
    public var id: String
    /// The region whose endpoint groups are local to it.
    public var regionID: String
    /// SHA-256 (hex) of its token's secret; nil for a PoP embedded in `serve`, which has no credential.
    public var secretHash: String?
    public var createdAt: String
    /// When its last report arrived, in milliseconds since 1970 by the clock of the replica that took it; nil
    /// before its first.
    public var lastSeenMilliseconds: Int64?
    /// Its last report.
    public var report: PoPReport?

    public init(
        id: String,
        regionID: String,
        secretHash: String?,
        createdAt: String,
        lastSeenMilliseconds: Int64? = nil,
        report: PoPReport? = nil
    ) {
        self.id = id
        self.regionID = regionID
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.lastSeenMilliseconds = lastSeenMilliseconds
        self.report = report
    }
}

/// The lifecycle columns of a resource, as a PoP report settles them.
public struct ResourceState: Sendable, Equatable {
    public var kind: ResourceKind
    public var id: String
    public var status: ResourceStatus
    public var revision: Int64

    public init(kind: ResourceKind, id: String, status: ResourceStatus, revision: Int64) {
        self.kind = kind
        self.id = id
        self.status = status
        self.revision = revision
    }
}

/// An account as stored: who it is and its salted password hash (``PasswordHash``).
public struct StoredAccount: Sendable, Equatable {
    public var caller: Caller
    public var passwordHash: String

    public init(caller: Caller, passwordHash: String) {
        self.caller = caller
        self.passwordHash = passwordHash
    }
}

/// Filters and paging of a list operation.
public struct ListQuery: Sendable, Equatable {
    public var limit = 500
    public var marker: String?
    public var pageReverse = false
    public var id: String?
    public var name: String?
    public var status: ResourceStatus?
    public var parentID: String?
    public var enterpriseProjectID: String?

    public init() {}

    /// Every item, unfiltered: for rules that look at all of an account's resources of a kind.
    public static var everything: ListQuery {
        var query = ListQuery()
        query.limit = Int(Int32.max)
        return query
    }
}

/// One page of a list.
public struct Page<Spec: ResourceSpec>: Sendable {
    public var items: [Resource<Spec>]
    /// Id of this page's last item when more items follow, else nil.
    public var nextMarker: String?

    public init(items: [Resource<Spec>], nextMarker: String?) {
        self.items = items
        self.nextMarker = nextMarker
    }

    /// The first page of `items` (already in id order).
    public init(slicing items: [Resource<Spec>], limit: Int) {
        let page = Array(items.prefix(limit))
        self.init(items: page, nextMarker: items.count > limit ? page.last?.id : nil)
    }
}

extension StoreTransaction {
    /// Every resource of a kind of one account, deleting ones included, in id order.
    public func all<S: ResourceSpec>(_ type: S.Type, domainID: String) async throws -> [Resource<S>] {
        try await self.list(type, domainID: domainID, query: .everything).items
    }

    public func count(_ kind: ResourceKind, domainID: String) async throws -> Int {
        try await self.count(kind, domainID: domainID, parentID: nil)
    }
}
