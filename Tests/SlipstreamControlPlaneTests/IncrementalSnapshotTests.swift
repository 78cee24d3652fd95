import Foundation
import SlipstreamModel
import Testing

@testable import SlipstreamControlPlane

/// The snapshot built from the last one and the resources written since equals one built from scratch, after every
/// kind of write, and after deletes settled by another replica (which leave no row behind).
@Suite struct IncrementalSnapshotTests {
    /// A control plane with an empty snapshot cache on the same store: it builds from scratch.
    static func fresh(_ f: Fixture) -> ControlPlane {
        ControlPlane(store: f.controlPlane.store, settings: f.controlPlane.settings)
    }

    /// Expects the long-lived control plane's snapshot to equal a fresh build's.
    static func expectCurrent(_ f: Fixture, _ step: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let incremental = try await f.controlPlane.snapshot()
        let whole = try await Self.fresh(f).snapshot()
        #expect(incremental == whole, "after \(step)", sourceLocation: sourceLocation)
        #expect(incremental.revision == (try await f.revision()), sourceLocation: sourceLocation)
    }

    @Test func matchesAFreshBuildAfterEveryKindOfWrite() async throws {
        let f = Fixture()
        try await Self.expectCurrent(f, "nothing")
        let (accelerator, listener, group) = try await f.chain()
        try await Self.expectCurrent(f, "a chain")
        let endpoint = try await f.endpoint(in: group.id)
        let second = try await f.endpoint(in: group.id, ip: "127.0.0.3")
        let check = try await f.healthCheck(on: group.id)
        try await Self.expectCurrent(f, "endpoints and a health check")
        _ = try await f.controlPlane.updateEndpoint(
            domainID: f.domainID,
            groupID: group.id,
            id: endpoint.id,
            try decode(EndpointOptions.Update.self, #"{"weight": 7}"#)
        )
        _ = try await f.controlPlane.updateEndpointGroup(
            domainID: f.domainID,
            id: group.id,
            try decode(EndpointGroupOptions.Update.self, #"{"traffic_dial_percentage": 40}"#)
        )
        _ = try await f.controlPlane.updateHealthCheck(
            domainID: f.domainID,
            id: check.id,
            try decode(HealthCheckOptions.Update.self, #"{"enabled": false}"#)
        )
        _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: listener.id, try Fixture.portRangesUpdate([81...82]))
        try await Self.expectCurrent(f, "updates")
        let ipGroup = try await f.ipGroup(cidrs: ["10.0.0.0/8"])
        _ = try await f.controlPlane.associateListener(domainID: f.domainID, id: ipGroup.id, try Fixture.associate(listener.id, "BLACK"))
        _ = try await f.controlPlane.addIPs(domainID: f.domainID, id: ipGroup.id, try Fixture.addIPs(["192.0.2.0/24"]))
        let logtank = try await f.logtank(on: listener.id)
        try await Self.expectCurrent(f, "an IP group and a logtank")
        // Deletes: DELETING drops out of the snapshot, then the settled delete removes the row.
        try await f.controlPlane.deleteEndpoint(domainID: f.domainID, groupID: group.id, id: second.id)
        try await f.controlPlane.deleteLogtank(domainID: f.domainID, id: logtank.id)
        _ = try await f.controlPlane.disassociateListener(domainID: f.domainID, id: ipGroup.id, try Fixture.disassociate(listener.id))
        try await Self.expectCurrent(f, "deletes marked")
        try await f.settle()
        try await Self.expectCurrent(f, "deletes settled")
        #expect(try await f.controlPlane.snapshot().endpoints.map(\.id) == [endpoint.id])
        _ = accelerator
    }

    @Test func deletesSettledByAnotherReplicaLeaveNothingBehind() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        let endpoints = [
            try await f.endpoint(in: group.id, ip: "127.0.0.2"), try await f.endpoint(in: group.id, ip: "127.0.0.3"),
        ]
        let logtank = try await f.logtank(on: listener.id)
        try await f.settle()
        try await Self.expectCurrent(f, "the start")
        // Another replica deletes, a PoP applies what it built, and it settles: no row of them is left to re-read.
        let other = Self.fresh(f)
        try await other.deleteEndpoint(domainID: f.domainID, groupID: group.id, id: endpoints[0].id)
        try await other.deleteLogtank(domainID: f.domainID, id: logtank.id)
        let applied = try await other.snapshot()
        try await other.settle(PoPReport(popID: "p", regionID: "ap-southeast-1", appliedRevision: applied.revision, errors: [], health: []))
        #expect(try await f.stored(EndpointSpec.self, endpoints[0].id) == nil)
        // And a write of this replica's after that, so only the count tells the removal.
        _ = try await f.endpoint(in: group.id, ip: "127.0.0.4")
        try await Self.expectCurrent(f, "removals settled elsewhere")
        #expect(try await f.controlPlane.snapshot().logSinks.isEmpty)
    }
}
