import Foundation
import SlipstreamModel
import Testing

@testable import SlipstreamControlPlane

/// Remote PoPs: their credentials, and how the reports of several PoPs settle status and health.
@Suite struct PoPFleetTests {
    /// A report of PoP `id` in `region` at `revision`.
    static func report(
        _ id: String,
        region: String = "ap-southeast-1",
        at revision: Int64,
        failing failed: [String] = [],
        health: [String: HealthState] = [:]
    ) -> PoPReport {
        PoPReport(
            popID: id,
            regionID: region,
            appliedRevision: revision,
            errors: failed.map { PoPReport.ApplyError(kind: .listener, id: $0, message: "port 80 in use") },
            health: health.map { PoPReport.EndpointHealth(endpointID: $0.key, state: $0.value) }
        )
    }

    @Test func aReportCountsOnlyWhileItsPoPAndTokenStand() async throws {
        let f = Fixture()
        let credential = try await f.controlPlane.createPoP(id: "sin-1", regionID: "ap-southeast-1")
        let pop = try #require(try await f.controlPlane.authenticatePoP(token: credential.token))
        // The region is the registered one, whatever the report says.
        try await f.controlPlane.recordRemote(Self.report("sin-1", region: "elsewhere", at: 0), pop: pop)
        #expect(try await f.controlPlane.pops().first?.pop.report?.regionID == "ap-southeast-1")
        // A negative applied revision is malformed; one past the newest committed revision (a PoP that served a
        // database since restored) counts as nothing applied, and its health views with it.
        await #expect(throws: GAError.self) { try await f.controlPlane.recordRemote(Self.report("sin-1", at: -1), pop: pop) }
        try await f.controlPlane.recordRemote(Self.report("sin-1", at: 5, health: ["e1": .unhealthy]), pop: pop)
        let ahead = try #require(try await f.controlPlane.pops().first?.pop.report)
        #expect(ahead.appliedRevision == 0 && ahead.health.isEmpty)
        // Authenticated before its token was replaced, or before it was deleted: refused, and nothing comes back.
        let rotated = try await f.controlPlane.rotatePoPToken(id: "sin-1")
        #expect(try await f.controlPlane.authenticatePoP(token: credential.token) == nil)
        #expect(try await f.controlPlane.authenticatePoP(token: rotated.token)?.id == "sin-1")
        await #expect(throws: GAError.self) { try await f.controlPlane.recordRemote(Self.report("sin-1", at: 0), pop: pop) }
        let current = try #require(try await f.controlPlane.authenticatePoP(token: rotated.token))
        try await f.controlPlane.deletePoP(id: "sin-1")
        await #expect(throws: GAError.self) { try await f.controlPlane.recordRemote(Self.report("sin-1", at: 0), pop: current) }
        #expect(try await f.controlPlane.pops().isEmpty)
        await #expect(throws: GAError.self) { try await f.controlPlane.deletePoP(id: "sin-1") }
        await #expect(throws: GAError.self) { try await f.controlPlane.rotatePoPToken(id: "sin-1") }
    }

    @Test func aCredentialOpensOnlyItsOwnPoP() async throws {
        let f = Fixture()
        let credential = try await f.controlPlane.createPoP(id: "sin-1", regionID: "ap-southeast-1")
        #expect(credential.popID == "sin-1" && credential.regionID == "ap-southeast-1")
        #expect(try await f.controlPlane.authenticatePoP(token: credential.token)?.id == "sin-1")
        let other = try await f.controlPlane.createPoP(id: "bj-1", regionID: "cn-north-4")
        #expect(try await f.controlPlane.authenticatePoP(token: other.token)?.id == "bj-1")
        // The secret of one PoP under the id of another, a changed secret, and malformed tokens open nothing.
        let (_, secret) = try #require(PoPCredential.parse(token: credential.token))
        #expect(try await f.controlPlane.authenticatePoP(token: PoPCredential.token(popID: "bj-1", secretHex: secret)) == nil)
        var flipped = Array(secret)
        flipped[0] = flipped[0] == "0" ? "1" : "0"
        #expect(try await f.controlPlane.authenticatePoP(token: PoPCredential.token(popID: "sin-1", secretHex: String(flipped))) == nil)
        for bad in ["", "slp-pop.sin-1", "slp-pop.sin-1.\(secret.dropLast())", "Bearer \(credential.token)", "x.sin-1.\(secret)"] {
            #expect(try await f.controlPlane.authenticatePoP(token: bad) == nil, "\(bad)")
        }
        // Only the hash is stored.
        let stored = try #require(try await f.controlPlane.store.read { tx in try await tx.pop(id: "sin-1") })
        #expect(stored.secretHash != nil && stored.secretHash != secret && !credential.token.contains(stored.secretHash!))
    }

    @Test func createRefusesBadIDsUnknownRegionsAndDuplicates() async throws {
        let f = Fixture()
        for bad in ["", "sin_1", "sin 1", String(repeating: "a", count: 37), "é"] {
            await expectGAError(400, "GA.9001") { _ = try await f.controlPlane.createPoP(id: bad, regionID: "ap-southeast-1") }
        }
        await expectGAError(400, "GA.9105") { _ = try await f.controlPlane.createPoP(id: "mars-1", regionID: "mars-1") }
        _ = try await f.controlPlane.createPoP(id: "sin-1", regionID: "ap-southeast-1")
        await expectGAError(400, "GA.9104") { _ = try await f.controlPlane.createPoP(id: "sin-1", regionID: "cn-north-4") }
        #expect(try await f.controlPlane.pops().map(\.pop.id) == ["sin-1"])
    }

    @Test func aResourceIsActiveOnlyWhenEveryLivePoPAppliedIt() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()  // the group is the last write
        let revision = try await f.revision()
        try await f.controlPlane.record(Self.report("a", at: revision), popID: "a", regionID: "ap-southeast-1")
        try await f.controlPlane.record(Self.report("b", at: revision - 1), popID: "b", regionID: "cn-north-4")
        try await f.controlPlane.settle(try await f.controlPlane.fleetReport(committed: revision))
        #expect(try await f.status(EndpointGroupSpec.self, group.id) == .pending)
        try await f.controlPlane.record(Self.report("b", at: revision), popID: "b", regionID: "cn-north-4")
        let fleet = try await f.controlPlane.fleetReport(committed: revision)
        #expect(fleet.appliedRevision == revision)
        try await f.controlPlane.settle(fleet)
        #expect(try await f.status(EndpointGroupSpec.self, group.id) == .active)
    }

    @Test func aStalePoPHoldsNothingBack() async throws {
        let f = Fixture { $0.popStaleAfterMilliseconds = 2_000 }
        let (_, listener, _) = try await f.chain()
        let revision = try await f.revision()
        try await f.controlPlane.record(Self.report("a", at: revision), popID: "a", regionID: "ap-southeast-1")
        // PoP b last reported long ago (by the stored clock), at an old revision.
        try await f.controlPlane.store.write { tx in
            try await tx.recordReport(Self.report("b", at: 0), popID: "b", regionID: "cn-north-4", seenAtMilliseconds: 1_000)
        }
        let states = try await f.controlPlane.pops()
        #expect(states.map(\.isLive) == [true, false])
        let fleet = try await f.controlPlane.fleetReport(committed: revision)
        #expect(fleet.appliedRevision == revision)
        try await f.controlPlane.settle(fleet)
        #expect(try await f.status(ListenerSpec.self, listener.id) == .active)
        // With no live PoP at all, the committed revision counts as applied.
        let none = FleetReport(pops: states.map { PoPState(pop: $0.pop, isLive: false) }, committed: 42)
        #expect(none.appliedRevision == 42 && none.failures.isEmpty)
    }

    @Test func anApplyErrorOfOneLivePoPMakesTheResourceErrorAndNamesThePoP() async throws {
        let f = Fixture()
        let (_, listener, _) = try await f.chain()
        let revision = try await f.revision()
        try await f.controlPlane.record(Self.report("a", at: revision), popID: "a", regionID: "ap-southeast-1")
        try await f.controlPlane.record(Self.report("b", at: revision, failing: [listener.id]), popID: "b", regionID: "cn-north-4")
        let fleet = try await f.controlPlane.fleetReport(committed: revision)
        #expect(fleet.failures[listener.id] == ["pop b: port 80 in use"])
        try await f.controlPlane.settle(fleet)
        #expect(try await f.status(ListenerSpec.self, listener.id) == .error)
        // The account that owns the listener sees the error in the PoP list; another account does not.
        let errors = try await f.controlPlane.pops().last?.pop.report?.errors ?? []
        #expect(try await f.controlPlane.applyErrors(errors, visibleTo: f.domainID).map(\.id) == [listener.id])
        #expect(try await f.controlPlane.applyErrors(errors, visibleTo: f.otherDomainID).isEmpty)
        // Once b applies it, the listener is ACTIVE again.
        try await f.controlPlane.record(Self.report("b", at: revision), popID: "b", regionID: "cn-north-4")
        try await f.controlPlane.settle(try await f.controlPlane.fleetReport(committed: revision))
        #expect(try await f.status(ListenerSpec.self, listener.id) == .active)
    }

    @Test func healthIsTheViewOfThePoPsInTheGroupsRegion() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()  // in ap-southeast-1
        let endpoint = try await f.endpoint(in: group.id)
        _ = try await f.healthCheck(on: group.id)
        let revision = try await f.revision()
        func settle(_ views: [(String, String, HealthState)]) async throws -> HealthState? {
            let reports = views.map { Self.report($0.0, region: $0.1, at: revision, health: [endpoint.id: $0.2]) }
            var fleet = FleetReport(appliedRevision: revision)
            for report in reports { fleet.add(report) }
            try await f.controlPlane.settle(fleet)
            return try await f.health(endpoint.id)
        }
        // The PoPs of the group's region decide; a PoP elsewhere that disagrees does not count.
        #expect(try await settle([("sin-1", "ap-southeast-1", .healthy), ("bj-1", "cn-north-4", .unhealthy)]) == .healthy)
        #expect(try await settle([("sin-1", "ap-southeast-1", .unhealthy), ("bj-1", "cn-north-4", .healthy)]) == .unhealthy)
        // Several in the region: the majority, a tie reads UNHEALTHY.
        let three: [(String, String, HealthState)] = [
            ("sin-1", "ap-southeast-1", .healthy), ("sin-2", "ap-southeast-1", .healthy), ("sin-3", "ap-southeast-1", .unhealthy),
        ]
        #expect(try await settle(three) == .healthy)
        #expect(try await settle([("sin-1", "ap-southeast-1", .healthy), ("sin-2", "ap-southeast-1", .unhealthy)]) == .unhealthy)
        // No PoP in the region: every PoP's view counts.
        let elsewhere: [(String, String, HealthState)] = [
            ("bj-1", "cn-north-4", .healthy), ("bj-2", "cn-north-4", .healthy), ("sh-1", "cn-east-3", .unhealthy),
        ]
        #expect(try await settle(elsewhere) == .healthy)
    }

    @Test func settlingAfterAPreviousReportLooksOnlyAtChangedViews() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let other = try await f.endpoint(in: group.id, ip: "127.0.0.3")
        _ = try await f.healthCheck(on: group.id)
        let revision = try await f.revision()
        func fleet(_ views: [String: HealthState]) -> FleetReport {
            var fleet = FleetReport(appliedRevision: revision)
            fleet.add(Self.report("sin-1", at: revision, health: views))
            return fleet
        }
        let first = fleet([endpoint.id: .healthy, other.id: .healthy])
        try await f.controlPlane.settle(first)
        #expect(try await f.health(endpoint.id) == .healthy)
        #expect(try await f.health(other.id) == .healthy)
        // Behind the control plane's back, so that a look would show: an endpoint whose views did not change is
        // not looked at ...
        try await f.controlPlane.store.write { tx in
            var stored = try #require(try await tx.find(EndpointSpec.self, id: other.id))
            stored.healthState = .initial
            try await tx.update(stored)
        }
        let second = fleet([endpoint.id: .unhealthy, other.id: .healthy])
        try await f.controlPlane.settle(second, previous: first)
        #expect(try await f.health(endpoint.id) == .unhealthy)
        #expect(try await f.health(other.id) == .initial)
        // ... but without a previous report every endpoint is.
        try await f.controlPlane.settle(second)
        #expect(try await f.health(other.id) == .healthy)
    }

    @Test func healthVerdictTable() {
        let cases: [([HealthState], HealthState?)] = [
            ([], nil),
            ([.healthy], .healthy),
            ([.healthy, .healthy], .healthy),
            ([.unhealthy, .unhealthy], .unhealthy),
            ([.healthy, .healthy, .unhealthy], .healthy),
            ([.unhealthy, .unhealthy, .healthy], .unhealthy),
            ([.healthy, .unhealthy], .unhealthy),
            ([.healthy, .initial], .initial),
            ([.noMonitor, .noMonitor], .noMonitor),
        ]
        for (views, verdict) in cases {
            #expect(ResourceLifecycle.healthVerdict(views) == verdict, "\(views)")
        }
    }
}
