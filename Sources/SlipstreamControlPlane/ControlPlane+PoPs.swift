import Crypto
import Foundation
import SlipstreamModel

/// A PoP with what its heartbeats say: whether it is live and what it last reported.
public struct PoPState: Sendable, Equatable {
    public var pop: StoredPoP
    /// Its last report arrived within ``ControlPlaneSettings/popStaleAfterMilliseconds``.
    public var isLive: Bool
}

/// What the live PoPs report together, and what settles resources and endpoint health
/// (`../shared/DESIGN.md`, "Status with many PoPs").
public struct FleetReport: Sendable, Equatable {
    /// The lowest revision every live PoP has applied; with no live PoP, the revision the control plane committed
    /// (a dead PoP holds nothing back).
    public var appliedRevision: Int64
    /// Apply errors of live PoPs: resource id → reasons, each naming its PoP (`pop sin-1: port 80 in use`).
    public var failures: [String: [String]]
    /// What each live PoP sees of each endpoint.
    public var health: [String: [HealthVote]]

    public init(appliedRevision: Int64, failures: [String: [String]] = [:], health: [String: [HealthVote]] = [:]) {
        self.appliedRevision = appliedRevision
        self.failures = failures
        self.health = health
    }

    /// The fleet of one PoP that sent `report`.
    public init(_ report: PoPReport) {
        self.init(appliedRevision: report.appliedRevision)
        self.add(report)
    }

    /// The fleet of the live PoPs among `pops`; `committed` when none is live.
    public init(pops: [PoPState], committed: Int64) {
        let reports = pops.filter(\.isLive).compactMap(\.pop.report)
        self.init(appliedRevision: reports.map(\.appliedRevision).min() ?? committed)
        for report in reports { self.add(report) }
    }

    mutating func add(_ report: PoPReport) {
        for error in report.errors {
            self.failures[error.id, default: []].append("pop \(report.popID): \(error.message)")
        }
        for entry in report.health {
            self.health[entry.endpointID, default: []].append(
                HealthVote(popID: report.popID, regionID: report.regionID, appliedRevision: report.appliedRevision, state: entry.state)
            )
        }
    }

    /// One PoP's view of one endpoint.
    public struct HealthVote: Sendable, Equatable {
        public var popID: String
        public var regionID: String
        public var appliedRevision: Int64
        public var state: HealthState
    }
}

extension ControlPlane {
    /// Registers a remote PoP serving `regionID` and returns its credential; only the secret's SHA-256 is stored.
    /// Throws GA.9001 for an id that is not 1-36 letters, digits and `-`, GA.9105 for a region this deployment
    /// does not serve, GA.9104 when the id is taken.
    public func createPoP(id: String, regionID: String) async throws -> PoPCredential {
        guard PoPCredential.isValidID(id) else { throw GAError.invalid("pop_id", "must be 1-36 letters, digits and '-'") }
        guard self.settings.regions.contains(where: { $0.regionID == regionID }) else { throw GAError.regionNotEnabled(regionID) }
        let (secret, hash) = Self.newSecret()
        let pop = StoredPoP(id: id, regionID: regionID, secretHash: hash, createdAt: Timestamp.now())
        try await self.store.write { tx in try await tx.insertPoP(pop) }
        return PoPCredential(popID: id, regionID: regionID, token: PoPCredential.token(popID: id, secretHex: secret))
    }

    /// Removes a PoP: its token stops opening the PoP protocol at once, and it no longer counts for status, health
    /// or `GET /v1/pops`. A PoP without a credential (one embedded in `serve`) registers again with its next
    /// report. Throws GA.9001 when no PoP has this id.
    public func deletePoP(id: String) async throws {
        guard try await self.store.write({ tx in try await tx.deletePoP(id: id) }) else { throw Self.unknownPoP(id) }
    }

    /// Gives a PoP a new token and returns its credential: the old token stops opening the PoP protocol at once.
    /// Throws GA.9001 when no PoP has this id.
    public func rotatePoPToken(id: String) async throws -> PoPCredential {
        let (secret, hash) = Self.newSecret()
        let stored = try await self.store.write { tx -> StoredPoP? in
            guard try await tx.setPoPSecret(id: id, secretHash: hash) else { return nil }
            return try await tx.pop(id: id)
        }
        guard let pop = stored else { throw Self.unknownPoP(id) }
        return PoPCredential(popID: id, regionID: pop.regionID, token: PoPCredential.token(popID: id, secretHex: secret))
    }

    /// A new PoP secret (256 random bits, hex) and the hash that is stored of it.
    static func newSecret() -> (secret: String, hash: String) {
        let secret = Hex.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        return (secret, Self.hash(secret: secret))
    }

    static func unknownPoP(_ id: String) -> GAError {
        GAError.invalid("pop_id", "no PoP \(id) is registered")
    }

    /// The PoP a token belongs to, or nil when the token is malformed, unknown or wrong.
    public func authenticatePoP(token: String) async throws -> StoredPoP? {
        guard let (popID, secret) = PoPCredential.parse(token: token) else { return nil }
        guard let pop = try await self.read({ tx in try await tx.pop(id: popID) }), let stored = pop.secretHash else { return nil }
        // Compare digests of equal length byte by byte without an early exit.
        let given = Array(Self.hash(secret: secret).utf8)
        let expected = Array(stored.utf8)
        guard given.count == expected.count else { return nil }
        return zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0 ? pop : nil
    }

    /// Records a report of PoP `popID` (registering a PoP without a credential, such as the embedded one, on its
    /// first report), stamped with this replica's clock.
    public func record(_ report: PoPReport, popID: String, regionID: String) async throws {
        let now = Self.nowMilliseconds()
        try await self.store.write { tx in
            try await tx.recordReport(report, popID: popID, regionID: regionID, seenAtMilliseconds: now)
        }
    }

    /// Records a report of the remote PoP `pop` (as ``authenticatePoP(token:)`` returned it), stamped with this
    /// replica's clock. Throws 401 APIGW.0301 when the PoP was deleted or its token replaced since it was
    /// authenticated: a report in flight does not bring a deleted PoP back. Throws GA.9001 for a negative applied
    /// revision. An applied revision past the newest committed one names no configuration of this store (the PoP
    /// served a database since restored from a backup, which numbers revisions again): the PoP stays live but
    /// counts as having applied nothing, so it holds resources back until it has fetched this store's snapshot.
    public func recordRemote(_ report: PoPReport, pop: StoredPoP) async throws {
        guard let secretHash = pop.secretHash else { throw GAError.unauthorized("PoP \(pop.id) has no token") }
        guard report.appliedRevision >= 0 else { throw GAError.invalid("appliedRevision", "must not be negative") }
        let now = Self.nowMilliseconds()
        var report = report
        report.regionID = pop.regionID
        let given = report
        let stored = try await self.store.write { tx in
            var recorded = given
            if recorded.appliedRevision > (try await tx.currentRevision()) {
                recorded.appliedRevision = 0
                recorded.errors = []
                recorded.health = []
            }
            return try await tx.recordRemoteReport(recorded, popID: pop.id, secretHash: secretHash, seenAtMilliseconds: now)
        }
        guard stored else { throw GAError.unauthorized("PoP \(pop.id) was deleted or its token replaced") }
    }

    /// Every PoP with its liveness at this moment.
    public func pops() async throws -> [PoPState] {
        let now = Self.nowMilliseconds()
        let stale = self.settings.popStaleAfterMilliseconds
        return try await self.read { tx in try await tx.pops() }.map { pop in
            PoPState(pop: pop, isLive: pop.lastSeenMilliseconds.map { now - $0 <= stale } ?? false)
        }
    }

    /// What the live PoPs report together, against the configuration revision `committed`.
    public func fleetReport(committed: Int64) async throws -> FleetReport {
        FleetReport(pops: try await self.pops(), committed: committed)
    }

    static func hash(secret: String) -> String {
        Hex.encode(SHA256.hash(data: Array(secret.utf8)))
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}

extension ControlPlane {
    /// The errors among `errors` about resources of account `domainID` (what `GET /v1/pops` shows that account).
    public func applyErrors(_ errors: [PoPReport.ApplyError], visibleTo domainID: String) async throws -> [PoPReport.ApplyError] {
        guard !errors.isEmpty else { return [] }
        return try await self.read { tx in
            var visible: [PoPReport.ApplyError] = []
            for error in errors where try await Self.exists(error.kind, error.id, domainID: domainID, on: tx) {
                visible.append(error)
            }
            return visible
        }
    }

    static func exists(_ kind: ResourceKind, _ id: String, domainID: String, on tx: any StoreTransaction) async throws -> Bool {
        switch kind {
        case .accelerator: try await tx.find(AcceleratorSpec.self, id: id, domainID: domainID) != nil
        case .listener: try await tx.find(ListenerSpec.self, id: id, domainID: domainID) != nil
        case .endpointGroup: try await tx.find(EndpointGroupSpec.self, id: id, domainID: domainID) != nil
        case .endpoint: try await tx.find(EndpointSpec.self, id: id, domainID: domainID) != nil
        case .healthCheck: try await tx.find(HealthCheckSpec.self, id: id, domainID: domainID) != nil
        case .ipGroup: try await tx.find(IPGroupSpec.self, id: id, domainID: domainID) != nil
        case .logtank: try await tx.find(LogtankSpec.self, id: id, domainID: domainID) != nil
        }
    }
}
