import Foundation
import SlipstreamModel
import Synchronization
import Testing

@testable import SlipstreamControlPlane

// MARK: - Helpers

/// Decodes a request input from JSON: the options types have only internal memberwise initialisers.
func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
}

/// `value` as JSON text, for building request inputs.
func json(_ value: some Encodable) -> String {
    (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
}

/// The `GAError` that `body` throws, or nil when it throws nothing (another error is recorded as an issue).
func gaError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void) async -> GAError? {
    do {
        try await body()
        return nil
    } catch let error as GAError {
        return error
    } catch {
        Issue.record("expected a GAError, caught \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Expects `body` to throw a `GAError` with `status` and `code`, and a message containing `text` when given.
func expectGAError(
    _ status: Int,
    _ code: String,
    mentioning text: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    guard let error = await gaError(sourceLocation: sourceLocation, body) else {
        Issue.record("expected \(status) \(code), nothing was thrown", sourceLocation: sourceLocation)
        return
    }
    #expect(error.httpStatus == status, "\(error)", sourceLocation: sourceLocation)
    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    if let text {
        #expect(error.message.contains(text), "\(error.message) should mention \(text)", sourceLocation: sourceLocation)
    }
}

/// A control plane over an in-memory store, two accounts, and makers of the resources the rules are about.
///
/// Pools: `OUTOFCM/IPV4` is 127.10.0.0/29 (six usable addresses, .1–.6), `CM/IPV4` is 127.20.0.0/30 (two, .1–.2); there
/// is no IPv6 pool. Regions: ap-southeast-1 (OUTOFCM) and cn-north-4 (CM). Quotas are the defaults unless a test lowers
/// them through `configure`.
struct Fixture: Sendable {
    let controlPlane: ControlPlane
    /// The account the tests act as.
    let domainID = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a"
    /// Another account, which must see nothing of the first.
    let otherDomainID = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"

    init(
        store: any ControlPlaneStore = InMemoryStore(),
        _ configure: (inout ControlPlaneSettings) -> Void = { _ in },
        onCommit: @escaping @Sendable (Int64) -> Void = { _ in }
    ) {
        var settings = ControlPlaneSettings(
            pools: ["OUTOFCM/IPV4": [CIDR("127.10.0.0/29")!], "CM/IPV4": [CIDR("127.20.0.0/30")!]],
            regions: [
                RegionInfo(regionID: "ap-southeast-1", area: .outsideChineseMainland),
                RegionInfo(regionID: "cn-north-4", area: .chineseMainland),
            ],
            quotas: Quotas()
        )
        configure(&settings)
        self.controlPlane = ControlPlane(store: store, settings: settings, onCommit: onCommit)
    }

    // Request inputs.

    static func acceleratorOptions(
        _ name: String = "ga",
        ipSets: [(area: String, ipType: String)] = [("OUTOFCM", "IPV4")],
        enterpriseProjectID: String = "0",
        tags: [ResourceTag] = []
    ) throws -> AcceleratorOptions.Create {
        let sets = ipSets.map { #"{"ip_type": "\#($0.ipType)", "area": "\#($0.area)"}"# }.joined(separator: ", ")
        return try decode(
            AcceleratorOptions.Create.self,
            #"{"name": "\#(name)", "enterprise_project_id": "\#(enterpriseProjectID)", "ip_sets": [\#(sets)], "tags": \#(json(tags))}"#
        )
    }

    static func portRanges(_ ranges: [ClosedRange<Int>]) -> String {
        "[" + ranges.map { #"{"from_port": \#($0.lowerBound), "to_port": \#($0.upperBound)}"# }.joined(separator: ", ") + "]"
    }

    static func listenerOptions(
        on acceleratorID: String,
        _ ranges: [ClosedRange<Int>] = [80...80],
        protocol proto: String = "TCP",
        name: String = "l"
    ) throws -> ListenerOptions.Create {
        try decode(
            ListenerOptions.Create.self,
            #"{"name": "\#(name)", "protocol": "\#(proto)", "accelerator_id": "\#(acceleratorID)", "port_ranges": \#(Self.portRanges(ranges))}"#
        )
    }

    /// A listener update that sets only the port ranges.
    static func portRangesUpdate(_ ranges: [ClosedRange<Int>]) throws -> ListenerOptions.Update {
        try decode(ListenerOptions.Update.self, #"{"port_ranges": \#(Self.portRanges(ranges))}"#)
    }

    static func endpointGroupOptions(on listenerID: String, region: String = "ap-southeast-1") throws -> EndpointGroupOptions.Create {
        try decode(EndpointGroupOptions.Create.self, #"{"name": "eg", "region_id": "\#(region)", "listeners": [{"id": "\#(listenerID)"}]}"#)
    }

    static func endpointOptions(
        ip: String = "127.0.0.2",
        resourceID: String? = nil,
        type: String = "CUSTOM_IP",
        weight: Int? = nil
    ) throws -> EndpointOptions.Create {
        let resource = resourceID ?? "backend-\(ip)"
        let weight = weight.map { #", "weight": \#($0)"# } ?? ""
        return try decode(
            EndpointOptions.Create.self,
            #"{"resource_id": "\#(resource)", "resource_type": "\#(type)", "ip_address": "\#(ip)"\#(weight)}"#
        )
    }

    static func healthCheckOptions(
        on groupID: String,
        enabled: Bool = true,
        interval: Int = 5,
        timeout: Int = 3
    ) throws -> HealthCheckOptions.Create {
        try decode(
            HealthCheckOptions.Create.self,
            #"{"endpoint_group_id": "\#(groupID)", "protocol": "TCP", "port": 80, "interval": \#(interval), "timeout": \#(timeout), "#
                + #""max_retries": 3, "enabled": \#(enabled)}"#
        )
    }

    /// `[{"cidr": …}, …]`
    static func entries(_ cidrs: [String]) -> String {
        json(cidrs.map { ["cidr": $0] })
    }

    static func ipGroupOptions(_ name: String = "office", cidrs: [String] = []) throws -> IPGroupOptions.Create {
        try decode(IPGroupOptions.Create.self, #"{"name": "\#(name)", "ip_list": \#(Self.entries(cidrs))}"#)
    }

    static func addIPs(_ cidrs: [String]) throws -> IPGroupOptions.AddIPs {
        try decode(IPGroupOptions.AddIPs.self, #"{"ip_list": \#(Self.entries(cidrs))}"#)
    }

    static func removeIPs(_ cidrs: [String]) throws -> IPGroupOptions.RemoveIPs {
        try decode(IPGroupOptions.RemoveIPs.self, #"{"ip_list": \#(json(cidrs))}"#)
    }

    static func associate(_ listenerID: String, _ type: String = "WHITE") throws -> IPGroupOptions.Associate {
        try decode(IPGroupOptions.Associate.self, #"{"listener_id": "\#(listenerID)", "type": "\#(type)"}"#)
    }

    static func disassociate(_ listenerID: String) throws -> IPGroupOptions.Disassociate {
        try decode(IPGroupOptions.Disassociate.self, #"{"listener_id": "\#(listenerID)"}"#)
    }

    static func logtankOptions(on listenerID: String, group: String = "access", stream: String = "edge") throws -> LogtankOptions.Create {
        try decode(
            LogtankOptions.Create.self,
            #"{"resource_type": "LISTENER", "resource_id": "\#(listenerID)", "log_group_id": "\#(group)", "log_stream_id": "\#(stream)"}"#
        )
    }

    // Resources, created through the control plane (in `domainID` unless told otherwise).

    func accelerator(
        _ name: String = "ga",
        ipSets: [(area: String, ipType: String)] = [("OUTOFCM", "IPV4")],
        enterpriseProjectID: String = "0",
        tags: [ResourceTag] = [],
        domainID: String? = nil
    ) async throws -> Accelerator {
        let options = try Self.acceleratorOptions(name, ipSets: ipSets, enterpriseProjectID: enterpriseProjectID, tags: tags)
        return try await self.controlPlane.createAccelerator(domainID: domainID ?? self.domainID, options)
    }

    func listener(
        on acceleratorID: String,
        _ ranges: [ClosedRange<Int>] = [80...80],
        protocol proto: String = "TCP",
        name: String = "l",
        domainID: String? = nil
    ) async throws -> Listener {
        let options = try Self.listenerOptions(on: acceleratorID, ranges, protocol: proto, name: name)
        return try await self.controlPlane.createListener(domainID: domainID ?? self.domainID, options)
    }

    func endpointGroup(on listenerID: String, region: String = "ap-southeast-1") async throws -> EndpointGroup {
        try await self.controlPlane.createEndpointGroup(domainID: self.domainID, Self.endpointGroupOptions(on: listenerID, region: region))
    }

    func endpoint(in groupID: String, ip: String = "127.0.0.2", resourceID: String? = nil) async throws -> Endpoint {
        try await self.controlPlane.createEndpoint(domainID: self.domainID, groupID: groupID, Self.endpointOptions(ip: ip, resourceID: resourceID))
    }

    func healthCheck(on groupID: String, enabled: Bool = true) async throws -> HealthCheck {
        try await self.controlPlane.createHealthCheck(domainID: self.domainID, Self.healthCheckOptions(on: groupID, enabled: enabled))
    }

    func ipGroup(_ name: String = "office", cidrs: [String] = []) async throws -> IPGroup {
        try await self.controlPlane.createIPGroup(domainID: self.domainID, Self.ipGroupOptions(name, cidrs: cidrs))
    }

    func logtank(on listenerID: String, group: String = "access", stream: String = "edge") async throws -> Logtank {
        try await self.controlPlane.createLogtank(domainID: self.domainID, Self.logtankOptions(on: listenerID, group: group, stream: stream))
    }

    /// An accelerator with a TCP listener on port 80 and an endpoint group of it in ap-southeast-1: the parents most
    /// rules need.
    func chain() async throws -> (accelerator: Accelerator, listener: Listener, group: EndpointGroup) {
        let accelerator = try await self.accelerator()
        let listener = try await self.listener(on: accelerator.id)
        let group = try await self.endpointGroup(on: listener.id)
        return (accelerator, listener, group)
    }

    // What the store holds.

    func revision() async throws -> Int64 {
        try await self.controlPlane.currentRevision()
    }

    /// A resource of any account as the store holds it, DELETING ones included; nil once it is gone.
    func stored<S: ResourceSpec>(_ type: S.Type, _ id: String) async throws -> Resource<S>? {
        try await self.controlPlane.store.read { tx in try await tx.find(S.self, id: id) }
    }

    func status<S: ResourceSpec>(_ type: S.Type, _ id: String) async throws -> ResourceStatus? {
        try await self.stored(type, id)?.status
    }

    func health(_ endpointID: String) async throws -> HealthState? {
        let endpoint = try await self.stored(EndpointSpec.self, endpointID)
        return endpoint?.healthState
    }

    /// Resources of a kind in `domainID` (DELETING ones included), optionally only under `parentID`.
    func count(_ kind: ResourceKind, under parentID: String? = nil, domainID: String? = nil) async throws -> Int {
        let domainID = domainID ?? self.domainID
        return try await self.controlPlane.store.read { tx in try await tx.count(kind, domainID: domainID, parentID: parentID) }
    }

    func addressesInUse(_ area: Area = .outsideChineseMainland) async throws -> Set<String> {
        try await self.controlPlane.store.read { tx in try await tx.addressesInUse(area: area, ipType: .ipv4) }
    }

    /// Settles a PoP report of `revision` (by default the current one), naming `failed` among its apply errors and
    /// reporting `health`.
    func settle(
        at revision: Int64? = nil,
        failing failed: [(kind: ResourceKind, id: String)] = [],
        health: [String: HealthState] = [:]
    ) async throws {
        let applied: Int64
        if let revision { applied = revision } else { applied = try await self.revision() }
        let report = PoPReport(
            popID: "test-pop",
            regionID: "ap-southeast-1",
            appliedRevision: applied,
            errors: failed.map { PoPReport.ApplyError(kind: $0.kind, id: $0.id, message: "could not apply") },
            health: health.map { PoPReport.EndpointHealth(endpointID: $0.key, state: $0.value) }
        )
        try await self.controlPlane.settle(report)
    }

    // Expectations on writes.

    /// Expects `body` to be refused with `status` and `code` (and a message containing `text`) and to leave the
    /// revision where it was: a refused write commits nothing.
    func expectRefused(
        _ status: Int,
        _ code: String,
        mentioning text: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async throws {
        let before = try await self.revision()
        await expectGAError(status, code, mentioning: text, sourceLocation: sourceLocation, body)
        #expect(try await self.revision() == before, "a refused write moved the revision", sourceLocation: sourceLocation)
    }

    /// Runs an accepted write, expects it to bump the revision by exactly one, and returns its result.
    @discardableResult
    func expectBump<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async throws -> T {
        let before = try await self.revision()
        let result = try await body()
        #expect(try await self.revision() == before + 1, sourceLocation: sourceLocation)
        return result
    }
}

/// An id no resource has.
let missingID = "01a226d8-0000-7000-8000-000000000000"

// MARK: - Accelerators

/// Guards accelerator creation and update: the per-account quota, and addresses from the pools — the first usable
/// ones, never one twice, GA.9201 when a pool is exhausted, and an address back in the pool only once the PoP let go.
@Suite struct AcceleratorRuleTests {
    @Test func createIsPendingWithTheFirstAddressOfThePool() async throws {
        let f = Fixture()
        let accelerator = try await f.expectBump { try await f.accelerator("ga-demo", tags: [ResourceTag(key: "env", value: "dev")]) }
        let revision = try await f.revision()
        #expect(accelerator.status == .pending)
        #expect(accelerator.revision == revision)
        #expect(accelerator.domainID == f.domainID)
        #expect(accelerator.parentID == nil)
        #expect(accelerator.name == "ga-demo")
        #expect(accelerator.spec.ipSets == [AcceleratorIP(ipType: .ipv4, ipAddress: "127.10.0.1", area: .outsideChineseMainland)])
        #expect(accelerator.spec.flavorID == "default")
        #expect(accelerator.spec.description == "")
        #expect(accelerator.spec.enterpriseProjectID == "0")
        #expect(accelerator.spec.tags == [ResourceTag(key: "env", value: "dev")])
        let shown = try await f.controlPlane.accelerator(domainID: f.domainID, id: accelerator.id)
        #expect(shown.spec == accelerator.spec)
        #expect(shown.status == .pending)
        await expectGAError(404, "GA.9002", mentioning: missingID) { _ = try await f.controlPlane.accelerator(domainID: f.domainID, id: missingID) }
    }

    @Test func quotaOfAcceleratorsPerAccount() async throws {
        let f = Fixture { $0.quotas.acceleratorsPerAccount = 2 }
        let first = try await f.accelerator("a")
        _ = try await f.accelerator("b")
        try await f.expectRefused(400, "GA.9103", mentioning: "accelerator_per_tenant (2)") {
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, Fixture.acceleratorOptions("c"))
        }
        #expect(try await f.count(.accelerator) == 2)
        #expect(try await f.addressesInUse() == ["127.10.0.1", "127.10.0.2"])
        // The quota is per account.
        _ = try await f.accelerator("c", domainID: f.otherDomainID)
        // An accelerator that is going away counts until it is gone.
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: first.id)
        try await f.expectRefused(400, "GA.9103") {
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, Fixture.acceleratorOptions("c"))
        }
        try await f.settle()
        _ = try await f.accelerator("c")
    }

    @Test func addressesAreTheFirstUsableOnesAndNeverHandedOutTwice() async throws {
        let f = Fixture()
        var addresses: [String] = []
        for index in 0..<6 {
            addresses.append(try await f.accelerator("ga-\(index)").spec.ipSets[0].ipAddress)
        }
        // 127.10.0.0 (network) and 127.10.0.7 (broadcast) are never handed out.
        #expect(addresses == (1...6).map { "127.10.0.\($0)" })
        #expect(try await f.addressesInUse() == Set(addresses))
        // Each area has its own pool.
        let mainland = try await f.accelerator("cm", ipSets: [("CM", "IPV4")])
        #expect(mainland.spec.ipSets == [AcceleratorIP(ipType: .ipv4, ipAddress: "127.20.0.1", area: .chineseMainland)])
    }

    /// The address search starts where this process left off; what it skips, a rollback, a settled delete or
    /// another replica's allocation, never makes it hand out a held address or lose a free one.
    @Test func addressSearchesResumeWithoutSkippingOrRepeating() async throws {
        let f = Fixture { $0.pools["OUTOFCM/IPV4"] = [CIDR("127.10.0.0/29")!, CIDR("127.11.0.0/30")!] }
        let replica = ControlPlane(store: f.controlPlane.store, settings: f.controlPlane.settings)
        func address(_ accelerator: Accelerator) -> String { accelerator.spec.ipSets[0].ipAddress }
        let first = try await f.accelerator("a")
        #expect(address(first) == "127.10.0.1")
        #expect(address(try await f.accelerator("b")) == "127.10.0.2")
        // A write that took .3 and then failed (no IPv6 pool) gives it back: the next search starts at .3 again.
        try await f.expectRefused(500, "GA.9201") {
            let options = try Fixture.acceleratorOptions(ipSets: [("OUTOFCM", "IPV4"), ("OUTOFCM", "IPV6")])
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, options)
        }
        #expect(address(try await f.accelerator("c")) == "127.10.0.3")
        // Another replica, starting with no search position, reads the pool whole.
        let fromReplica = try await replica.createAccelerator(domainID: f.domainID, Fixture.acceleratorOptions("d"))
        #expect(address(fromReplica) == "127.10.0.4")
        #expect(address(try await f.accelerator("e")) == "127.10.0.5")
        #expect(address(try await f.accelerator("f")) == "127.10.0.6")
        // The search runs on into the next block of the pool.
        #expect(address(try await f.accelerator("g")) == "127.11.0.1")
        // A settled delete frees .1, and the next search finds it.
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: first.id)
        try await f.settle()
        #expect(address(try await f.accelerator("h")) == "127.10.0.1")
        #expect(address(try await f.accelerator("i")) == "127.11.0.2")
        try await f.expectRefused(500, "GA.9201") { _ = try await f.accelerator("j") }
        let held = try await f.addressesInUse()
        #expect(held.count == 8)
    }

    @Test func anExhaustedPoolIsGA9201AndChangesNothing() async throws {
        let f = Fixture()
        for index in 0..<6 { _ = try await f.accelerator("ga-\(index)") }
        try await f.expectRefused(500, "GA.9201", mentioning: "No available ip in common aip pool (OUTOFCM IPV4)") {
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, Fixture.acceleratorOptions("ga-7"))
        }
        #expect(try await f.count(.accelerator) == 6)
        // A pool that is not configured is as exhausted as a full one.
        try await f.expectRefused(500, "GA.9201", mentioning: "(CM IPV6)") {
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, Fixture.acceleratorOptions("v6", ipSets: [("CM", "IPV6")]))
        }
        #expect(try await f.count(.accelerator) == 6)
    }

    @Test func aFailedSecondAddressGivesBackTheFirst() async throws {
        let f = Fixture()
        try await f.expectRefused(500, "GA.9201", mentioning: "OUTOFCM IPV6") {
            let options = try Fixture.acceleratorOptions(ipSets: [("OUTOFCM", "IPV4"), ("OUTOFCM", "IPV6")])
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, options)
        }
        #expect(try await f.addressesInUse().isEmpty)
        #expect(try await f.count(.accelerator) == 0)
        let both = try await f.accelerator(ipSets: [("OUTOFCM", "IPV4"), ("CM", "IPV4")])
        #expect(
            both.spec.ipSets == [
                AcceleratorIP(ipType: .ipv4, ipAddress: "127.10.0.1", area: .outsideChineseMainland),
                AcceleratorIP(ipType: .ipv4, ipAddress: "127.20.0.1", area: .chineseMainland),
            ]
        )
    }

    @Test func anAddressIsReusableOnlyOnceTheDeleteHasSettled() async throws {
        let f = Fixture()
        let first = try await f.accelerator("a", ipSets: [("CM", "IPV4")])
        _ = try await f.accelerator("b", ipSets: [("CM", "IPV4")])
        let third = try Fixture.acceleratorOptions("c", ipSets: [("CM", "IPV4")])
        try await f.expectRefused(500, "GA.9201") { _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, third) }
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: first.id)
        // DELETING: the PoP may still serve its address, so nobody else gets it yet.
        #expect(try await f.status(AcceleratorSpec.self, first.id) == .deleting)
        #expect(try await f.addressesInUse(.chineseMainland) == ["127.20.0.1", "127.20.0.2"])
        try await f.expectRefused(500, "GA.9201") { _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, third) }
        try await f.settle()
        #expect(try await f.stored(AcceleratorSpec.self, first.id) == nil)
        #expect(try await f.addressesInUse(.chineseMainland) == ["127.20.0.2"])
        let again = try await f.accelerator("c", ipSets: [("CM", "IPV4")])
        #expect(again.spec.ipSets.map(\.ipAddress) == ["127.20.0.1"])
    }

    @Test func badTagsAreRefusedBeforeAnythingIsWritten() async throws {
        let f = Fixture()
        try await f.expectRefused(400, "GA.9107", mentioning: "Tag key is duplicated") {
            let tags = [ResourceTag(key: "a", value: "1"), ResourceTag(key: "a", value: "2")]
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, Fixture.acceleratorOptions(tags: tags))
        }
        try await f.expectRefused(400, "GA.9109", mentioning: "Tag key is empty") {
            let tags = [ResourceTag(key: "", value: "1")]
            _ = try await f.controlPlane.createAccelerator(domainID: f.domainID, Fixture.acceleratorOptions(tags: tags))
        }
        #expect(try await f.count(.accelerator) == 0)
        #expect(try await f.addressesInUse().isEmpty)
    }

    @Test func updateChangesOnlyWhatItCarriesAndIsPendingAgain() async throws {
        let f = Fixture()
        let created = try await f.accelerator("ga")
        try await f.settle()
        let renamed = try await f.expectBump {
            let options = try decode(AcceleratorOptions.Update.self, #"{"name": "ga-2"}"#)
            return try await f.controlPlane.updateAccelerator(domainID: f.domainID, id: created.id, options)
        }
        #expect(renamed.name == "ga-2")
        #expect(renamed.status == .pending)
        let revision = try await f.revision()
        #expect(renamed.revision == revision)
        #expect(renamed.spec == created.spec)
        let described = try await f.controlPlane.updateAccelerator(
            domainID: f.domainID,
            id: created.id,
            decode(AcceleratorOptions.Update.self, #"{"description": "edge"}"#)
        )
        #expect(described.name == "ga-2")
        #expect(described.spec.description == "edge")
        #expect(described.spec.ipSets == created.spec.ipSets)
        try await f.expectRefused(404, "GA.9002", mentioning: missingID) {
            _ = try await f.controlPlane.updateAccelerator(domainID: f.domainID, id: missingID, decode(AcceleratorOptions.Update.self, "{}"))
        }
    }
}

// MARK: - Listeners

/// Guards listener port ranges (ordered, no overlap within the request or with a sibling on the same accelerator,
/// not 22/TCP or 4789/UDP), the listeners-per-accelerator quota and the listener-port quota (ports × accelerator
/// addresses), on create and again on update, where a listener's own old ranges are no obstacle.
@Suite struct ListenerRuleTests {
    @Test func createAppliesDefaultsAndUpdateChangesOnlyWhatItCarries() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id, [80...81, 443...443], name: "web")
        #expect(listener.parentID == accelerator.id)
        #expect(listener.status == .pending)
        #expect(listener.spec.protocol == .tcp)
        #expect(listener.spec.clientAffinity == ClientAffinity.none)
        #expect(listener.spec.description == "")
        #expect(listener.spec.portRanges == [PortRange(fromPort: 80, toPort: 81), PortRange(fromPort: 443, toPort: 443)])
        let updated = try await f.expectBump {
            try await f.controlPlane.updateListener(
                domainID: f.domainID,
                id: listener.id,
                decode(ListenerOptions.Update.self, #"{"client_affinity": "SOURCE_IP"}"#)
            )
        }
        #expect(updated.spec.clientAffinity == .sourceIP)
        #expect(updated.name == "web")
        #expect(updated.spec.portRanges == listener.spec.portRanges)
        #expect(updated.status == .pending)
        try await f.expectRefused(404, "GA.9002", mentioning: missingID) {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: missingID))
        }
    }

    @Test func rangesMustBeOrderedAndMustNotOverlapWithinTheRequest() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        try await f.expectRefused(400, "GA.9101", mentioning: "ranges 100-200 and 150-300 overlap") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: accelerator.id, [100...200, 150...300]))
        }
        try await f.expectRefused(400, "GA.9001", mentioning: "port_ranges[0].to_port") {
            let inverted =
                #"{"name": "l", "protocol": "TCP", "accelerator_id": "\#(accelerator.id)", "port_ranges": [{"from_port": 90, "to_port": 80}]}"#
            _ = try await f.controlPlane.createListener(domainID: f.domainID, decode(ListenerOptions.Create.self, inverted))
        }
        #expect(try await f.count(.listener) == 0)
    }

    @Test func rangesMustNotOverlapASiblingOnTheSameAccelerator() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let existing = try await f.listener(on: accelerator.id, [1000...1100])
        try await f.expectRefused(400, "GA.9101", mentioning: "1050-1150 overlaps 1000-1100 of listener \(existing.id)") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: accelerator.id, [1050...1150]))
        }
        // The rule is per accelerator, whatever the protocol (API reference, `port_ranges`).
        try await f.expectRefused(400, "GA.9101") {
            let options = try Fixture.listenerOptions(on: accelerator.id, [1100...1100], protocol: "UDP")
            _ = try await f.controlPlane.createListener(domainID: f.domainID, options)
        }
        #expect(try await f.count(.listener, under: accelerator.id) == 1)
        // Touching ranges do not overlap, and another accelerator has ports of its own.
        _ = try await f.listener(on: accelerator.id, [1101...1200])
        let other = try await f.accelerator("other")
        _ = try await f.listener(on: other.id, [1000...1100])
        // A listener that is going away holds its ports until the PoP has let go of them.
        try await f.controlPlane.deleteListener(domainID: f.domainID, id: existing.id)
        try await f.expectRefused(400, "GA.9101") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: accelerator.id, [1050...1050]))
        }
        try await f.settle()
        _ = try await f.listener(on: accelerator.id, [1050...1050])
    }

    @Test func portsThePlatformKeepsAreRefused() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        try await f.expectRefused(400, "GA.9101", mentioning: "port 22/TCP is used by the system") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: accelerator.id, [20...22]))
        }
        try await f.expectRefused(400, "GA.9101", mentioning: "port 4789/UDP is used by the system") {
            let options = try Fixture.listenerOptions(on: accelerator.id, [4780...4800], protocol: "UDP")
            _ = try await f.controlPlane.createListener(domainID: f.domainID, options)
        }
        #expect(try await f.count(.listener) == 0)
        // Each port is kept on its own protocol only.
        _ = try await f.listener(on: accelerator.id, [22...22], protocol: "UDP")
        _ = try await f.listener(on: accelerator.id, [4789...4789], protocol: "TCP")
    }

    @Test func quotaOfListenersPerAccelerator() async throws {
        let f = Fixture { $0.quotas.listenersPerAccelerator = 2 }
        let accelerator = try await f.accelerator()
        _ = try await f.listener(on: accelerator.id, [80...80])
        _ = try await f.listener(on: accelerator.id, [81...81])
        try await f.expectRefused(400, "GA.9103", mentioning: "listener_per_accelerator (2)") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: accelerator.id, [82...82]))
        }
        #expect(try await f.count(.listener, under: accelerator.id) == 2)
        let other = try await f.accelerator("other")
        _ = try await f.listener(on: other.id, [82...82])
    }

    @Test func listenerPortQuotaCountsPortsTimesAddresses() async throws {
        let f = Fixture { $0.quotas.listenerPortsPerAccount = 100 }
        let double = try await f.accelerator("double", ipSets: [("OUTOFCM", "IPV4"), ("CM", "IPV4")])
        let single = try await f.accelerator("single")
        // 40 ports on two addresses: 80 sockets.
        _ = try await f.listener(on: double.id, [1000...1039])
        try await f.expectRefused(
            400,
            "GA.9103",
            mentioning: "listener_port_per_tenant (100): this listener needs 21 port(s) (21 port(s) × 1 address(es)), 80 in use"
        ) {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: single.id, [2000...2020]))
        }
        try await f.expectRefused(400, "GA.9103", mentioning: "needs 22 port(s) (11 port(s) × 2 address(es)), 80 in use") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: double.id, [3000...3010]))
        }
        #expect(try await f.count(.listener) == 1)
        // Exactly at the quota is fine.
        _ = try await f.listener(on: single.id, [2000...2019])
        let usage = try await f.controlPlane.quotas(domainID: f.domainID).first { $0.type == "listener_port_per_tenant" }
        #expect(usage?.used == 100)
        #expect(usage?.quota == 100)
        // Another account has a budget of its own.
        let foreign = try await f.accelerator("foreign", domainID: f.otherDomainID)
        _ = try await f.listener(on: foreign.id, [1000...1099], domainID: f.otherDomainID)
    }

    @Test func updateRechecksTheRangesExcludingTheListenerItself() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let first = try await f.listener(on: accelerator.id, [1000...2000])
        let second = try await f.listener(on: accelerator.id, [3000...3000])
        try await f.expectRefused(400, "GA.9101", mentioning: "1999-3000 overlaps 1000-2000 of listener \(first.id)") {
            _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: second.id, Fixture.portRangesUpdate([1999...3000]))
        }
        try await f.expectRefused(400, "GA.9101", mentioning: "port 22/TCP is used by the system") {
            _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: second.id, Fixture.portRangesUpdate([20...30]))
        }
        try await f.expectRefused(400, "GA.9101", mentioning: "ranges 100-200 and 150-300 overlap") {
            _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: second.id, Fixture.portRangesUpdate([100...200, 150...300]))
        }
        let unchanged = try await f.controlPlane.listener(domainID: f.domainID, id: second.id)
        #expect(unchanged.spec.portRanges == [PortRange(fromPort: 3000, toPort: 3000)])
        #expect(unchanged.revision == second.revision)
        // Its own old ranges are no obstacle.
        let grown = try await f.expectBump {
            try await f.controlPlane.updateListener(domainID: f.domainID, id: first.id, Fixture.portRangesUpdate([1000...2001]))
        }
        #expect(grown.spec.portRanges == [PortRange(fromPort: 1000, toPort: 2001)])
        #expect(grown.status == .pending)
    }

    @Test func updateRechecksThePortQuotaExcludingTheListenerItself() async throws {
        let f = Fixture { $0.quotas.listenerPortsPerAccount = 100 }
        let accelerator = try await f.accelerator()
        let first = try await f.listener(on: accelerator.id, [1000...1049])
        _ = try await f.listener(on: accelerator.id, [2000...2049])
        try await f.expectRefused(400, "GA.9103", mentioning: "this listener needs 51 port(s) (51 port(s) × 1 address(es)), 50 in use") {
            _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: first.id, Fixture.portRangesUpdate([1000...1050]))
        }
        #expect(try await f.controlPlane.listener(domainID: f.domainID, id: first.id).spec.portRanges == [PortRange(fromPort: 1000, toPort: 1049)])
        _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: first.id, Fixture.portRangesUpdate([1000...1029]))
        let usage = try await f.controlPlane.quotas(domainID: f.domainID).first { $0.type == "listener_port_per_tenant" }
        #expect(usage?.used == 80)
    }
}

// MARK: - Delete order

/// Guards the delete order (GA.9005, 409): a parent cannot go while it has children, DELETING children included,
/// and a refused delete changes nothing.
@Suite struct DeleteOrderRuleTests {
    @Test func anAcceleratorWithListenersCannotBeDeleted() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        try await f.expectRefused(409, "GA.9005", mentioning: "Found accelerator \(accelerator.id) is associated by listener") {
            try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id)
        }
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .pending)
        // A listener that is going away still holds its accelerator until it is gone.
        try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        try await f.expectRefused(409, "GA.9005") { try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id) }
        try await f.settle()
        #expect(try await f.stored(ListenerSpec.self, listener.id) == nil)
        try await f.expectBump { try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id) }
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .deleting)
    }

    @Test func aListenerWithEndpointGroupsOrALogtankCannotBeDeleted() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        let logtank = try await f.logtank(on: listener.id)
        try await f.expectRefused(409, "GA.9005", mentioning: "Found listener \(listener.id) is associated by endpoint_group") {
            try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        }
        try await f.controlPlane.deleteEndpointGroup(domainID: f.domainID, id: group.id)
        try await f.settle()
        try await f.expectRefused(409, "GA.9005", mentioning: "Found listener \(listener.id) is associated by logtank") {
            try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        }
        try await f.controlPlane.deleteLogtank(domainID: f.domainID, id: logtank.id)
        try await f.expectRefused(409, "GA.9005", mentioning: "logtank") {
            try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        }
        #expect(try await f.status(ListenerSpec.self, listener.id) == .active)
        try await f.settle()
        try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        #expect(try await f.status(ListenerSpec.self, listener.id) == .deleting)
    }

    @Test func anEndpointGroupWithEndpointsOrAHealthCheckCannotBeDeleted() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let check = try await f.healthCheck(on: group.id)
        try await f.expectRefused(409, "GA.9005", mentioning: "Found endpoint_group \(group.id) is associated by endpoint") {
            try await f.controlPlane.deleteEndpointGroup(domainID: f.domainID, id: group.id)
        }
        try await f.controlPlane.deleteEndpoint(domainID: f.domainID, groupID: group.id, id: endpoint.id)
        try await f.settle()
        try await f.expectRefused(409, "GA.9005", mentioning: "Found endpoint_group \(group.id) is associated by health_check") {
            try await f.controlPlane.deleteEndpointGroup(domainID: f.domainID, id: group.id)
        }
        try await f.controlPlane.deleteHealthCheck(domainID: f.domainID, id: check.id)
        try await f.settle()
        try await f.controlPlane.deleteEndpointGroup(domainID: f.domainID, id: group.id)
        #expect(try await f.status(EndpointGroupSpec.self, group.id) == .deleting)
    }

    /// Deleting what is already going away is accepted and does not move it to a later revision (which would delay
    /// its removal).
    @Test func deletingTwiceIsAcceptedAndDoesNotDelayTheRemoval() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id)
        let deleting = try #require(try await f.stored(AcceleratorSpec.self, accelerator.id))
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id)
        let again = try #require(try await f.stored(AcceleratorSpec.self, accelerator.id))
        #expect(again.status == .deleting)
        #expect(again.revision == deleting.revision)
        try await f.settle(at: deleting.revision)
        #expect(try await f.stored(AcceleratorSpec.self, accelerator.id) == nil)
    }
}

// MARK: - DELETING resources

/// Guards GA.9004 (400): a resource that is going away can neither be changed nor gain children, and the refusal
/// writes nothing.
@Suite struct DeletingResourceRuleTests {
    @Test func aDeletingAcceleratorCannotChangeOrGainListeners() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id)
        let notOperable = "Resource accelerator \(accelerator.id) is in DELETING status no operation allowed"
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            let options = try decode(AcceleratorOptions.Update.self, #"{"name": "x"}"#)
            _ = try await f.controlPlane.updateAccelerator(domainID: f.domainID, id: accelerator.id, options)
        }
        try await f.expectRefused(400, "GA.9004", mentioning: "accelerator \(accelerator.id)") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: accelerator.id))
        }
        #expect(try await f.count(.listener) == 0)
        #expect(try await f.stored(AcceleratorSpec.self, accelerator.id)?.name == "ga")
    }

    @Test func aDeletingListenerCannotChangeOrGainChildren() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        let ipGroup = try await f.ipGroup()
        try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        let notOperable = "Resource listener \(listener.id) is in DELETING status"
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: listener.id, Fixture.portRangesUpdate([81...81]))
        }
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            _ = try await f.controlPlane.createEndpointGroup(domainID: f.domainID, Fixture.endpointGroupOptions(on: listener.id))
        }
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            _ = try await f.controlPlane.createLogtank(domainID: f.domainID, Fixture.logtankOptions(on: listener.id))
        }
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: ipGroup.id, Fixture.associate(listener.id))
        }
        #expect(try await f.count(.endpointGroup) == 0)
        #expect(try await f.count(.logtank) == 0)
        #expect(try await f.stored(IPGroupSpec.self, ipGroup.id)?.spec.associatedListeners.isEmpty == true)
        #expect(try await f.stored(ListenerSpec.self, listener.id)?.spec.portRanges == [PortRange(fromPort: 80, toPort: 80)])
    }

    @Test func aDeletingEndpointGroupCannotChangeOrGainChildren() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        try await f.controlPlane.deleteEndpointGroup(domainID: f.domainID, id: group.id)
        let notOperable = "Resource endpoint_group \(group.id) is in DELETING status"
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            let options = try decode(EndpointGroupOptions.Update.self, #"{"traffic_dial_percentage": 30}"#)
            _ = try await f.controlPlane.updateEndpointGroup(domainID: f.domainID, id: group.id, options)
        }
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            _ = try await f.controlPlane.createEndpoint(domainID: f.domainID, groupID: group.id, Fixture.endpointOptions())
        }
        try await f.expectRefused(400, "GA.9004", mentioning: notOperable) {
            _ = try await f.controlPlane.createHealthCheck(domainID: f.domainID, Fixture.healthCheckOptions(on: group.id))
        }
        #expect(try await f.count(.endpoint) == 0)
        #expect(try await f.count(.healthCheck) == 0)
        #expect(try await f.stored(EndpointGroupSpec.self, group.id)?.spec.trafficDialPercentage == 100)
    }

    @Test func deletingLeavesCannotChange() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let check = try await f.healthCheck(on: group.id)
        let logtank = try await f.logtank(on: listener.id)
        let ipGroup = try await f.ipGroup(cidrs: ["192.0.2.0/24"])
        try await f.controlPlane.deleteEndpoint(domainID: f.domainID, groupID: group.id, id: endpoint.id)
        try await f.controlPlane.deleteHealthCheck(domainID: f.domainID, id: check.id)
        try await f.controlPlane.deleteLogtank(domainID: f.domainID, id: logtank.id)
        try await f.controlPlane.deleteIPGroup(domainID: f.domainID, id: ipGroup.id)
        try await f.expectRefused(400, "GA.9004", mentioning: "Resource endpoint \(endpoint.id) is in DELETING status") {
            let options = try decode(EndpointOptions.Update.self, #"{"weight": 5}"#)
            _ = try await f.controlPlane.updateEndpoint(domainID: f.domainID, groupID: group.id, id: endpoint.id, options)
        }
        try await f.expectRefused(400, "GA.9004", mentioning: "Resource health_check \(check.id) is in DELETING status") {
            let options = try decode(HealthCheckOptions.Update.self, #"{"port": 81}"#)
            _ = try await f.controlPlane.updateHealthCheck(domainID: f.domainID, id: check.id, options)
        }
        try await f.expectRefused(400, "GA.9004", mentioning: "Resource logtank \(logtank.id) is in DELETING status") {
            let options = try decode(LogtankOptions.Update.self, #"{"log_group_id": "a", "log_stream_id": "b"}"#)
            _ = try await f.controlPlane.updateLogtank(domainID: f.domainID, id: logtank.id, options)
        }
        let ipGroupGoing = "Resource ip_group \(ipGroup.id) is in DELETING status"
        try await f.expectRefused(400, "GA.9004", mentioning: ipGroupGoing) {
            _ = try await f.controlPlane.updateIPGroup(domainID: f.domainID, id: ipGroup.id, decode(IPGroupOptions.Update.self, #"{"name": "x"}"#))
        }
        try await f.expectRefused(400, "GA.9004", mentioning: ipGroupGoing) {
            try await f.controlPlane.addIPs(domainID: f.domainID, id: ipGroup.id, Fixture.addIPs(["198.51.100.0/24"]))
        }
        try await f.expectRefused(400, "GA.9004", mentioning: ipGroupGoing) {
            try await f.controlPlane.removeIPs(domainID: f.domainID, id: ipGroup.id, Fixture.removeIPs(["192.0.2.0/24"]))
        }
        try await f.expectRefused(400, "GA.9004", mentioning: ipGroupGoing) {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: ipGroup.id, Fixture.associate(listener.id))
        }
        #expect(try await f.stored(EndpointSpec.self, endpoint.id)?.spec.weight == 1)
        #expect(try await f.stored(HealthCheckSpec.self, check.id)?.spec.port == 80)
        #expect(try await f.stored(LogtankSpec.self, logtank.id)?.spec == LogtankSpec(logGroupID: "access", logStreamID: "edge"))
        #expect(try await f.stored(IPGroupSpec.self, ipGroup.id)?.spec.ipList.map(\.cidr) == ["192.0.2.0/24"])
    }
}

// MARK: - Endpoint groups

/// Guards endpoint groups: the region must be one the operator configured (GA.9105), and a listener has at most one
/// group per region (GA.9104).
@Suite struct EndpointGroupRuleTests {
    @Test func createAppliesDefaultsAndUpdateChangesOnlyWhatItCarries() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        #expect(group.parentID == listener.id)
        #expect(group.status == .pending)
        #expect(group.name == "eg")
        #expect(group.spec == EndpointGroupSpec(description: "", trafficDialPercentage: 100, regionID: "ap-southeast-1"))
        let dialled = try await f.expectBump {
            try await f.controlPlane.updateEndpointGroup(
                domainID: f.domainID,
                id: group.id,
                decode(EndpointGroupOptions.Update.self, #"{"traffic_dial_percentage": 30}"#)
            )
        }
        #expect(dialled.spec.trafficDialPercentage == 30)
        #expect(dialled.name == "eg")
        #expect(dialled.spec.regionID == "ap-southeast-1")
        #expect(dialled.status == .pending)
        try await f.expectRefused(404, "GA.9002", mentioning: missingID) {
            _ = try await f.controlPlane.createEndpointGroup(domainID: f.domainID, Fixture.endpointGroupOptions(on: missingID))
        }
    }

    @Test func theRegionMustBeConfigured() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        try await f.expectRefused(400, "GA.9105", mentioning: "not enabled for the selected region: mars-1") {
            _ = try await f.controlPlane.createEndpointGroup(domainID: f.domainID, Fixture.endpointGroupOptions(on: listener.id, region: "mars-1"))
        }
        #expect(try await f.count(.endpointGroup) == 0)
    }

    @Test func aListenerHasOneGroupPerRegion() async throws {
        let f = Fixture()
        let (accelerator, listener, group) = try await f.chain()
        try await f.expectRefused(400, "GA.9104", mentioning: "endpoint_group of listener \(listener.id) in region ap-southeast-1") {
            _ = try await f.controlPlane.createEndpointGroup(domainID: f.domainID, Fixture.endpointGroupOptions(on: listener.id))
        }
        #expect(try await f.count(.endpointGroup, under: listener.id) == 1)
        // Other regions, and other listeners, are fine.
        _ = try await f.endpointGroup(on: listener.id, region: "cn-north-4")
        let other = try await f.listener(on: accelerator.id, [81...81])
        _ = try await f.endpointGroup(on: other.id)
        // A group that is going away keeps its region until it is gone.
        try await f.controlPlane.deleteEndpointGroup(domainID: f.domainID, id: group.id)
        try await f.expectRefused(400, "GA.9104") {
            _ = try await f.controlPlane.createEndpointGroup(domainID: f.domainID, Fixture.endpointGroupOptions(on: listener.id))
        }
        try await f.settle()
        _ = try await f.endpointGroup(on: listener.id)
    }
}

// MARK: - Endpoints

/// Guards endpoints: no backend twice in a group (same resource id or same address, GA.9104), the per-group quota,
/// address syntax, and that an endpoint is reached only through its own group.
@Suite struct EndpointRuleTests {
    @Test func aBackendIsInAGroupOnce() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id, ip: "127.0.0.2", resourceID: "backend-1")
        #expect(endpoint.spec.weight == 1)
        #expect(endpoint.parentID == group.id)
        try await f.expectRefused(400, "GA.9104", mentioning: "as \(endpoint.id)") {
            let sameAddress = try Fixture.endpointOptions(ip: "127.0.0.2", resourceID: "backend-2")
            _ = try await f.controlPlane.createEndpoint(domainID: f.domainID, groupID: group.id, sameAddress)
        }
        try await f.expectRefused(400, "GA.9104", mentioning: "as \(endpoint.id)") {
            let sameResource = try Fixture.endpointOptions(ip: "127.0.0.3", resourceID: "backend-1")
            _ = try await f.controlPlane.createEndpoint(domainID: f.domainID, groupID: group.id, sameResource)
        }
        #expect(try await f.count(.endpoint, under: group.id) == 1)
        // Another group may hold the same backend.
        let remote = try await f.endpointGroup(on: listener.id, region: "cn-north-4")
        _ = try await f.endpoint(in: remote.id, ip: "127.0.0.2", resourceID: "backend-1")
    }

    @Test func quotaOfEndpointsPerGroup() async throws {
        let f = Fixture { $0.quotas.endpointsPerGroup = 2 }
        let (_, listener, group) = try await f.chain()
        _ = try await f.endpoint(in: group.id, ip: "127.0.0.2")
        _ = try await f.endpoint(in: group.id, ip: "127.0.0.3")
        try await f.expectRefused(400, "GA.9103", mentioning: "endpoint_per_endpoint_group (2)") {
            _ = try await f.controlPlane.createEndpoint(domainID: f.domainID, groupID: group.id, Fixture.endpointOptions(ip: "127.0.0.4"))
        }
        #expect(try await f.count(.endpoint, under: group.id) == 2)
        let remote = try await f.endpointGroup(on: listener.id, region: "cn-north-4")
        _ = try await f.endpoint(in: remote.id, ip: "127.0.0.4")
    }

    @Test func theAddressIsAnIPUnlessTheEndpointIsADomainName() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        try await f.expectRefused(400, "GA.9001", mentioning: "endpoint.ip_address") {
            _ = try await f.controlPlane.createEndpoint(domainID: f.domainID, groupID: group.id, Fixture.endpointOptions(ip: "not-an-ip"))
        }
        let named = try await f.controlPlane.createEndpoint(
            domainID: f.domainID,
            groupID: group.id,
            Fixture.endpointOptions(ip: "backend.example.com", type: "CUSTOM_DOMAIN_NAME", weight: 0)
        )
        #expect(named.spec.ipAddress == "backend.example.com")
        #expect(named.spec.resourceType == .customDomainName)
        #expect(named.spec.weight == 0)
    }

    @Test func anEndpointIsReachedOnlyThroughItsGroup() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        let remote = try await f.endpointGroup(on: listener.id, region: "cn-north-4")
        let endpoint = try await f.endpoint(in: group.id)
        await expectGAError(404, "GA.9002", mentioning: endpoint.id) {
            _ = try await f.controlPlane.endpoint(domainID: f.domainID, groupID: remote.id, id: endpoint.id)
        }
        try await f.expectRefused(404, "GA.9002", mentioning: endpoint.id) {
            let options = try decode(EndpointOptions.Update.self, #"{"weight": 7}"#)
            _ = try await f.controlPlane.updateEndpoint(domainID: f.domainID, groupID: remote.id, id: endpoint.id, options)
        }
        try await f.expectRefused(404, "GA.9002", mentioning: endpoint.id) {
            try await f.controlPlane.deleteEndpoint(domainID: f.domainID, groupID: remote.id, id: endpoint.id)
        }
        #expect(try await f.status(EndpointSpec.self, endpoint.id) == .pending)
        #expect(try await f.controlPlane.endpoints(domainID: f.domainID, groupID: group.id, query: ListQuery()).items.map(\.id) == [endpoint.id])
        #expect(try await f.controlPlane.endpoints(domainID: f.domainID, groupID: remote.id, query: ListQuery()).items.isEmpty)
        await expectGAError(404, "GA.9002", mentioning: missingID) {
            _ = try await f.controlPlane.endpoints(domainID: f.domainID, groupID: missingID, query: ListQuery())
        }
        // Through its own group, an update changes only the weight.
        let weighted = try await f.expectBump {
            let options = try decode(EndpointOptions.Update.self, #"{"weight": 7}"#)
            return try await f.controlPlane.updateEndpoint(domainID: f.domainID, groupID: group.id, id: endpoint.id, options)
        }
        #expect(weighted.spec.weight == 7)
        #expect(weighted.spec.ipAddress == endpoint.spec.ipAddress)
        #expect(weighted.status == .pending)
    }
}

// MARK: - Health

/// Guards endpoint health as the API shows it: NO_MONITOR without an enabled health check, INITIAL while an enabled
/// check has given no verdict, and reset whenever the check is created, changed, disabled or deleted; and one health
/// check per endpoint group.
@Suite struct HealthRuleTests {
    @Test func endpointsWithoutAHealthCheckAreNotMonitored() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        #expect(endpoint.healthState == .noMonitor)
    }

    @Test func creatingAHealthCheckResetsTheGroupsEndpoints() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        let remote = try await f.endpointGroup(on: listener.id, region: "cn-north-4")
        let monitored = try await f.endpoint(in: group.id, ip: "127.0.0.2")
        let elsewhere = try await f.endpoint(in: remote.id, ip: "127.0.0.3")
        _ = try await f.healthCheck(on: group.id, enabled: true)
        #expect(try await f.health(monitored.id) == .initial)
        #expect(try await f.health(elsewhere.id) == .noMonitor)
        // Endpoints added later wait for a first verdict too.
        #expect(try await f.endpoint(in: group.id, ip: "127.0.0.4").healthState == .initial)
        // A disabled check monitors nothing.
        _ = try await f.healthCheck(on: remote.id, enabled: false)
        #expect(try await f.health(elsewhere.id) == .noMonitor)
        #expect(try await f.endpoint(in: remote.id, ip: "127.0.0.5").healthState == .noMonitor)
    }

    @Test func changingTheHealthCheckStartsOverAndDisablingItStopsMonitoring() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let check = try await f.healthCheck(on: group.id)
        try await f.settle(health: [endpoint.id: .healthy])
        #expect(try await f.health(endpoint.id) == .healthy)
        func update(_ body: String) async throws {
            _ = try await f.controlPlane.updateHealthCheck(domainID: f.domainID, id: check.id, decode(HealthCheckOptions.Update.self, body))
        }
        try await update(#"{"port": 81}"#)
        #expect(try await f.health(endpoint.id) == .initial)
        try await f.settle(health: [endpoint.id: .healthy])
        #expect(try await f.health(endpoint.id) == .healthy)
        // An update that changes nothing the probe does keeps the verdict.
        try await update(#"{"port": 81}"#)
        #expect(try await f.health(endpoint.id) == .healthy)
        try await update(#"{"enabled": false}"#)
        #expect(try await f.health(endpoint.id) == .noMonitor)
        try await update(#"{"enabled": true}"#)
        #expect(try await f.health(endpoint.id) == .initial)
    }

    @Test func deletingTheHealthCheckStopsMonitoring() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let check = try await f.healthCheck(on: group.id)
        try await f.settle(health: [endpoint.id: .healthy])
        let before = try await f.revision()
        try await f.controlPlane.deleteHealthCheck(domainID: f.domainID, id: check.id)
        #expect(try await f.health(endpoint.id) == .noMonitor)
        // A verdict the PoP reached with the old check is not recorded.
        try await f.settle(at: before, health: [endpoint.id: .unhealthy])
        #expect(try await f.health(endpoint.id) == .noMonitor)
        try await f.settle(health: [endpoint.id: .noMonitor])
        #expect(try await f.stored(HealthCheckSpec.self, check.id) == nil)
        #expect(try await f.health(endpoint.id) == .noMonitor)
    }

    @Test func anEndpointAddedWhileTheHealthCheckIsGoingAwayIsNotMonitored() async throws {
        // A health check on its way out monitors nothing: deleteHealthCheck sets every sibling NO_MONITOR and the
        // snapshot no longer carries the check, so a new endpoint must not start INITIAL either.
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        let sibling = try await f.endpoint(in: group.id, ip: "127.0.0.2")
        let check = try await f.healthCheck(on: group.id)
        try await f.controlPlane.deleteHealthCheck(domainID: f.domainID, id: check.id)
        #expect(try await f.health(sibling.id) == .noMonitor)
        let endpoint = try await f.endpoint(in: group.id, ip: "127.0.0.3")
        #expect(endpoint.healthState == .noMonitor)
    }

    @Test func aGroupHasOneHealthCheckAndItsTimeoutIsWithinItsInterval() async throws {
        let f = Fixture()
        let (_, listener, group) = try await f.chain()
        let check = try await f.healthCheck(on: group.id)
        #expect(check.parentID == group.id)
        #expect(check.spec == HealthCheckSpec(protocol: .tcp, port: 80, interval: 5, timeout: 3, maxRetries: 3, enabled: true))
        try await f.expectRefused(400, "GA.9104", mentioning: "health_check of endpoint_group \(group.id) (\(check.id))") {
            _ = try await f.controlPlane.createHealthCheck(domainID: f.domainID, Fixture.healthCheckOptions(on: group.id))
        }
        let remote = try await f.endpointGroup(on: listener.id, region: "cn-north-4")
        try await f.expectRefused(400, "GA.9001", mentioning: "health_check.timeout") {
            _ = try await f.controlPlane.createHealthCheck(domainID: f.domainID, Fixture.healthCheckOptions(on: remote.id, interval: 5, timeout: 6))
        }
        #expect(try await f.count(.healthCheck) == 1)
        try await f.expectRefused(400, "GA.9001", mentioning: "health_check.timeout") {
            let options = try decode(HealthCheckOptions.Update.self, #"{"timeout": 6}"#)
            _ = try await f.controlPlane.updateHealthCheck(domainID: f.domainID, id: check.id, options)
        }
        #expect(try await f.stored(HealthCheckSpec.self, check.id)?.spec == check.spec)
        try await f.expectRefused(404, "GA.9002", mentioning: missingID) {
            _ = try await f.controlPlane.createHealthCheck(domainID: f.domainID, Fixture.healthCheckOptions(on: missingID))
        }
    }
}

// MARK: - Logtanks

/// Guards logtanks: one per listener (GA.9104), sink names that are safe file names, and the listener filter.
@Suite struct LogtankRuleTests {
    @Test func aListenerHasOneLogtank() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id, [80...80])
        let other = try await f.listener(on: accelerator.id, [81...81])
        let logtank = try await f.logtank(on: listener.id)
        #expect(logtank.parentID == listener.id)
        #expect(logtank.status == .pending)
        try await f.expectRefused(400, "GA.9104", mentioning: "logtank of listener \(listener.id) (\(logtank.id))") {
            _ = try await f.controlPlane.createLogtank(domainID: f.domainID, Fixture.logtankOptions(on: listener.id, stream: "other"))
        }
        #expect(try await f.count(.logtank) == 1)
        let second = try await f.logtank(on: other.id, stream: "other")
        let filtered = try await f.controlPlane.logtanks(domainID: f.domainID, query: ListQuery(), resourceIDs: [other.id])
        #expect(filtered.items.map(\.id) == [second.id])
        let all = try await f.controlPlane.logtanks(domainID: f.domainID, query: ListQuery(), resourceIDs: [])
        #expect(all.items.map(\.id) == [logtank.id, second.id])
        try await f.expectRefused(404, "GA.9002", mentioning: missingID) {
            _ = try await f.controlPlane.createLogtank(domainID: f.domainID, Fixture.logtankOptions(on: missingID))
        }
    }

    @Test func sinkNamesMustBeSafeFileNames() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        try await f.expectRefused(400, "GA.9001", mentioning: "logtank.log_group_id") {
            _ = try await f.controlPlane.createLogtank(domainID: f.domainID, Fixture.logtankOptions(on: listener.id, group: "../etc"))
        }
        try await f.expectRefused(400, "GA.9001", mentioning: "logtank.log_stream_id") {
            _ = try await f.controlPlane.createLogtank(domainID: f.domainID, Fixture.logtankOptions(on: listener.id, stream: ".."))
        }
        #expect(try await f.count(.logtank) == 0)
        let logtank = try await f.logtank(on: listener.id)
        try await f.expectRefused(400, "GA.9001", mentioning: "logtank.log_stream_id") {
            let options = try decode(LogtankOptions.Update.self, #"{"log_group_id": "access", "log_stream_id": "a/b"}"#)
            _ = try await f.controlPlane.updateLogtank(domainID: f.domainID, id: logtank.id, options)
        }
        #expect(try await f.stored(LogtankSpec.self, logtank.id)?.spec == logtank.spec)
        let updated = try await f.expectBump {
            let options = try decode(LogtankOptions.Update.self, #"{"log_group_id": "access", "log_stream_id": "edge-2"}"#)
            return try await f.controlPlane.updateLogtank(domainID: f.domainID, id: logtank.id, options)
        }
        #expect(updated.spec == LogtankSpec(logGroupID: "access", logStreamID: "edge-2"))
        #expect(updated.status == .pending)
    }
}

// MARK: - IP groups

/// Guards IP groups: entries normalised to CIDR blocks, refused when bad or repeated, at most 200 per group; removing
/// an entry that is not there is an error and removes nothing; a listener has at most one IP group and an IP group at
/// most 10 listeners; neither side of an association can be deleted while it holds.
@Suite struct IPGroupRuleTests {
    @Test func entriesAreNormalisedToBlocks() async throws {
        let f = Fixture()
        let group = try await f.ipGroup(cidrs: ["192.0.2.7/24", "2001:db8::1", " 198.51.100.1 "])
        #expect(group.spec.ipList.map(\.cidr) == ["192.0.2.0/24", "2001:db8::1/128", "198.51.100.1/32"])
        #expect(group.spec.ipList.allSatisfy { $0.description == "" && $0.createdAt == group.createdAt })
        #expect(group.spec.associatedListeners.isEmpty)
        #expect(group.status == .pending)
        try await f.expectBump { try await f.controlPlane.addIPs(domainID: f.domainID, id: group.id, Fixture.addIPs(["203.0.113.9/8"])) }
        let shown = try await f.controlPlane.ipGroup(domainID: f.domainID, id: group.id)
        #expect(shown.spec.ipList.map(\.cidr) == ["192.0.2.0/24", "2001:db8::1/128", "198.51.100.1/32", "203.0.0.0/8"])
        #expect(shown.status == .pending)
    }

    @Test func badAndRepeatedEntriesAreRefused() async throws {
        let f = Fixture()
        try await f.expectRefused(400, "GA.9110", mentioning: "Duplicated entry: 10.0.0.0/8") {
            _ = try await f.controlPlane.createIPGroup(domainID: f.domainID, Fixture.ipGroupOptions(cidrs: ["10.0.0.0/8", "10.1.2.3/8"]))
        }
        try await f.expectRefused(400, "GA.9001", mentioning: "ip_group.ip_list[1].cidr") {
            _ = try await f.controlPlane.createIPGroup(domainID: f.domainID, Fixture.ipGroupOptions(cidrs: ["10.0.0.0/8", "300.0.0.0/8"]))
        }
        #expect(try await f.count(.ipGroup) == 0)
        let group = try await f.ipGroup(cidrs: ["10.0.0.0/8"])
        try await f.expectRefused(400, "GA.9110", mentioning: "Duplicated entry: 10.0.0.0/8") {
            try await f.controlPlane.addIPs(domainID: f.domainID, id: group.id, Fixture.addIPs(["192.0.2.0/24", "10.0.0.1/8"]))
        }
        try await f.expectRefused(400, "GA.9110", mentioning: "Duplicated entry: 192.0.2.0/24") {
            try await f.controlPlane.addIPs(domainID: f.domainID, id: group.id, Fixture.addIPs(["192.0.2.0/24", "192.0.2.0/24"]))
        }
        try await f.expectRefused(400, "GA.9001", mentioning: "ip_list[1].cidr") {
            try await f.controlPlane.addIPs(domainID: f.domainID, id: group.id, Fixture.addIPs(["192.0.2.0/24", "not-a-block"]))
        }
        #expect(try await f.stored(IPGroupSpec.self, group.id)?.spec.ipList.map(\.cidr) == ["10.0.0.0/8"])
    }

    @Test func quotaOfEntriesPerGroup() async throws {
        let f = Fixture()
        let group = try await f.ipGroup(cidrs: ["10.255.0.0/16"])
        try await f.controlPlane.addIPs(domainID: f.domainID, id: group.id, Fixture.addIPs((0..<199).map { "10.0.\($0).0/24" }))
        #expect(try await f.stored(IPGroupSpec.self, group.id)?.spec.ipList.count == IPGroupSpec.maxEntries)
        try await f.expectRefused(400, "GA.9103", mentioning: "ip_per_ip_group (200)") {
            try await f.controlPlane.addIPs(domainID: f.domainID, id: group.id, Fixture.addIPs(["192.0.2.0/24"]))
        }
        #expect(try await f.stored(IPGroupSpec.self, group.id)?.spec.ipList.count == 200)
    }

    @Test func quotaOfIPGroupsPerAccount() async throws {
        let f = Fixture { $0.quotas.ipGroupsPerAccount = 1 }
        _ = try await f.ipGroup("one")
        try await f.expectRefused(400, "GA.9103", mentioning: "ip_group_per_tenant (1)") {
            _ = try await f.controlPlane.createIPGroup(domainID: f.domainID, Fixture.ipGroupOptions("two"))
        }
        #expect(try await f.count(.ipGroup) == 1)
    }

    @Test func removingAnEntryThatIsNotThereIsAnErrorAndRemovesNothing() async throws {
        let f = Fixture()
        let group = try await f.ipGroup(cidrs: ["192.0.2.0/24", "2001:db8::1", "198.51.100.0/24"])
        try await f.expectRefused(400, "GA.9001", mentioning: "Invalid ip_list[1]: 203.0.113.0/24 is not in IP group \(group.id)") {
            try await f.controlPlane.removeIPs(domainID: f.domainID, id: group.id, Fixture.removeIPs(["192.0.2.0/24", "203.0.113.0/24"]))
        }
        // The same entry twice: the second is no longer there.
        try await f.expectRefused(400, "GA.9001", mentioning: "ip_list[1]") {
            try await f.controlPlane.removeIPs(domainID: f.domainID, id: group.id, Fixture.removeIPs(["192.0.2.0/24", "192.0.2.0/24"]))
        }
        try await f.expectRefused(400, "GA.9001", mentioning: "ip_list[0]") {
            try await f.controlPlane.removeIPs(domainID: f.domainID, id: group.id, Fixture.removeIPs(["not-a-block"]))
        }
        #expect(try await f.stored(IPGroupSpec.self, group.id)?.spec.ipList.count == 3)
        // Entries are matched as blocks: a plain address is its /128.
        try await f.expectBump {
            try await f.controlPlane.removeIPs(domainID: f.domainID, id: group.id, Fixture.removeIPs(["2001:db8::1", "192.0.2.0/24"]))
        }
        #expect(try await f.stored(IPGroupSpec.self, group.id)?.spec.ipList.map(\.cidr) == ["198.51.100.0/24"])
    }

    @Test func aListenerHasAtMostOneIPGroup() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id, [80...80])
        let second = try await f.listener(on: accelerator.id, [81...81])
        let office = try await f.ipGroup("office")
        let other = try await f.ipGroup("other")
        try await f.expectBump {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: office.id, Fixture.associate(listener.id, "WHITE"))
        }
        let bound = try #require(try await f.stored(IPGroupSpec.self, office.id))
        #expect(bound.spec.associatedListeners == [ListenerAccessControl(listenerID: listener.id, type: .allow)])
        #expect(bound.status == .pending)
        try await f.expectRefused(400, "GA.9104", mentioning: "access control of listener \(listener.id) (ip_group \(office.id))") {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: other.id, Fixture.associate(listener.id, "BLACK"))
        }
        try await f.expectRefused(400, "GA.9104", mentioning: "access control of listener \(listener.id)") {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: office.id, Fixture.associate(listener.id, "BLACK"))
        }
        try await f.expectRefused(404, "GA.9002", mentioning: missingID) {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: other.id, Fixture.associate(missingID))
        }
        try await f.expectRefused(404, "GA.9002", mentioning: missingID) {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: missingID, Fixture.associate(second.id))
        }
        let foreignAccelerator = try await f.accelerator("foreign", domainID: f.otherDomainID)
        let foreign = try await f.listener(on: foreignAccelerator.id, domainID: f.otherDomainID)
        try await f.expectRefused(404, "GA.9002", mentioning: foreign.id) {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: other.id, Fixture.associate(foreign.id))
        }
        #expect(try await f.stored(IPGroupSpec.self, other.id)?.spec.associatedListeners.isEmpty == true)
        // One group may guard several listeners, each with its own type.
        try await f.controlPlane.associateListener(domainID: f.domainID, id: office.id, Fixture.associate(second.id, "BLACK"))
        #expect(
            try await f.stored(IPGroupSpec.self, office.id)?.spec.associatedListeners == [
                ListenerAccessControl(listenerID: listener.id, type: .allow), ListenerAccessControl(listenerID: second.id, type: .deny),
            ]
        )
        let guarding = try await f.controlPlane.ipGroups(domainID: f.domainID, query: ListQuery(), listenerID: second.id)
        #expect(guarding.items.map(\.id) == [office.id])
    }

    @Test func quotaOfListenersPerIPGroup() async throws {
        let f = Fixture { $0.quotas.listenersPerAccelerator = 11 }
        let accelerator = try await f.accelerator()
        var listeners: [Listener] = []
        for index in 0..<11 {
            listeners.append(try await f.listener(on: accelerator.id, [(1000 + index)...(1000 + index)]))
        }
        let group = try await f.ipGroup()
        for listener in listeners.prefix(10) {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: group.id, Fixture.associate(listener.id))
        }
        try await f.expectRefused(400, "GA.9103", mentioning: "listener_per_ip_group (10)") {
            try await f.controlPlane.associateListener(domainID: f.domainID, id: group.id, Fixture.associate(listeners[10].id))
        }
        #expect(try await f.stored(IPGroupSpec.self, group.id)?.spec.associatedListeners.count == IPGroupSpec.maxListeners)
    }

    @Test func disassociatingAListenerThatIsNotAssociatedIsAnError() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        let office = try await f.ipGroup("office")
        let other = try await f.ipGroup("other")
        try await f.controlPlane.associateListener(domainID: f.domainID, id: office.id, Fixture.associate(listener.id))
        let notAssociated = "Invalid listener_id: listener \(listener.id) is not associated with IP group \(other.id)"
        try await f.expectRefused(400, "GA.9001", mentioning: notAssociated) {
            try await f.controlPlane.disassociateListener(domainID: f.domainID, id: other.id, Fixture.disassociate(listener.id))
        }
        #expect(try await f.stored(IPGroupSpec.self, office.id)?.spec.associatedListeners.count == 1)
        try await f.expectBump {
            try await f.controlPlane.disassociateListener(domainID: f.domainID, id: office.id, Fixture.disassociate(listener.id))
        }
        #expect(try await f.stored(IPGroupSpec.self, office.id)?.spec.associatedListeners.isEmpty == true)
        try await f.expectRefused(400, "GA.9001", mentioning: "listener_id") {
            try await f.controlPlane.disassociateListener(domainID: f.domainID, id: office.id, Fixture.disassociate(listener.id))
        }
    }

    @Test func neitherSideOfAnAssociationCanBeDeleted() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        let group = try await f.ipGroup()
        try await f.controlPlane.associateListener(domainID: f.domainID, id: group.id, Fixture.associate(listener.id))
        try await f.expectRefused(409, "GA.9005", mentioning: "Found listener \(listener.id) is associated by ip_group (ip_group \(group.id))") {
            try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        }
        try await f.expectRefused(409, "GA.9005", mentioning: "Found ip_group \(group.id) is associated by listener \(listener.id)") {
            try await f.controlPlane.deleteIPGroup(domainID: f.domainID, id: group.id)
        }
        #expect(try await f.status(ListenerSpec.self, listener.id) == .pending)
        #expect(try await f.status(IPGroupSpec.self, group.id) == .pending)
        try await f.controlPlane.disassociateListener(domainID: f.domainID, id: group.id, Fixture.disassociate(listener.id))
        try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        try await f.controlPlane.deleteIPGroup(domainID: f.domainID, id: group.id)
        #expect(try await f.status(ListenerSpec.self, listener.id) == .deleting)
        #expect(try await f.status(IPGroupSpec.self, group.id) == .deleting)
    }

    @Test func aListenerHeldByAnIPGroupAndAnEndpointGroupNamesTheIPGroup() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        _ = try await f.endpointGroup(on: listener.id)
        let group = try await f.ipGroup()
        try await f.controlPlane.associateListener(domainID: f.domainID, id: group.id, Fixture.associate(listener.id))
        try await f.expectRefused(409, "GA.9005", mentioning: "is associated by ip_group (ip_group \(group.id))") {
            try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id)
        }
    }

    @Test func aListenerDeleteCannotSlipPastAConcurrentAssociation() async throws {
        // The IP-group check of a listener delete runs in the delete's own write transaction: an association committed
        // just before it (another request) is seen, so no DELETING (and later removed) listener stays bound to a group.
        let store = InterleavingStore()
        let f = Fixture(store: store)
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        let group = try await f.ipGroup()
        let associate = try Fixture.associate(listener.id)
        store.beforeNextWrite { try await f.controlPlane.associateListener(domainID: f.domainID, id: group.id, associate) }
        await expectGAError(409, "GA.9005", mentioning: "ip_group") { try await f.controlPlane.deleteListener(domainID: f.domainID, id: listener.id) }
        #expect(try await f.stored(IPGroupSpec.self, group.id)?.spec.associatedListeners.map(\.listenerID) == [listener.id])
        #expect(try await f.status(ListenerSpec.self, listener.id) == .pending)
    }
}

/// An in-memory store that runs one extra step before the next write transaction starts: another request that
/// commits between a rule's reads and its write.
final class InterleavingStore: ControlPlaneStore {
    private let base = InMemoryStore()
    private let step = Mutex<(@Sendable () async throws -> Void)?>(nil)

    func beforeNextWrite(_ step: @escaping @Sendable () async throws -> Void) {
        self.step.withLock { $0 = step }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        let pending = self.step.withLock { step in
            let taken = step
            step = nil
            return taken
        }
        try await pending?()
        return try await self.base.write(body)
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        try await self.base.read(body)
    }

    func close() async throws {}
}

// MARK: - Tags

/// Guards tags on accelerators and listeners: added tags merge by key, a resource has at most 20, keys are
/// non-empty and not repeated in a request, and the key listing and tag filter see only the caller's resources.
@Suite struct TagRuleTests {
    @Test func addedTagsMergeByKey() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator(tags: [ResourceTag(key: "env", value: "prod")])
        try await f.expectBump {
            let tags = [ResourceTag(key: "env", value: "staging"), ResourceTag(key: "team", value: "core")]
            try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, tags)
        }
        let merged = [ResourceTag(key: "env", value: "staging"), ResourceTag(key: "team", value: "core")]
        #expect(try await f.controlPlane.tags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id) == merged)
        #expect(try await f.controlPlane.accelerator(domainID: f.domainID, id: accelerator.id).spec.tags == merged)
        // Removing ignores keys the resource does not have.
        try await f.expectBump {
            try await f.controlPlane.removeTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, keys: ["env", "missing"])
        }
        let remaining = try await f.controlPlane.tags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id)
        #expect(remaining == [ResourceTag(key: "team", value: "core")])
        // Listeners carry tags the same way.
        let listener = try await f.listener(on: accelerator.id)
        try await f.controlPlane.addTags(ListenerSpec.self, domainID: f.domainID, id: listener.id, [ResourceTag(key: "tier", value: "edge")])
        #expect(try await f.controlPlane.listener(domainID: f.domainID, id: listener.id).spec.tags == [ResourceTag(key: "tier", value: "edge")])
    }

    @Test func aResourceHasAtMostTwentyTags() async throws {
        let f = Fixture()
        let nineteen = (0..<19).map { ResourceTag(key: "k\($0)", value: "v") }
        let accelerator = try await f.accelerator(tags: nineteen)
        try await f.expectRefused(400, "GA.9001", mentioning: "Invalid tags: a resource has at most 20 tags") {
            let tags = [ResourceTag(key: "k19", value: "v"), ResourceTag(key: "k20", value: "v")]
            try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, tags)
        }
        #expect(try await f.controlPlane.tags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id) == nineteen)
        // A key the resource has is replaced, not added.
        let tags = [ResourceTag(key: "k0", value: "new"), ResourceTag(key: "k19", value: "v")]
        try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, tags)
        let twenty = try await f.controlPlane.tags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id)
        #expect(twenty.count == 20)
        #expect(twenty.first == ResourceTag(key: "k0", value: "new"))
        try await f.expectRefused(400, "GA.9001", mentioning: "at most 20 tags") {
            try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, [ResourceTag(key: "k20", value: "v")])
        }
    }

    @Test func emptyAndRepeatedKeysAreRefused() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator(tags: [ResourceTag(key: "env", value: "prod")])
        try await f.expectRefused(400, "GA.9107", mentioning: "Tag key is duplicated") {
            let tags = [ResourceTag(key: "a", value: "1"), ResourceTag(key: "a", value: "2")]
            try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, tags)
        }
        try await f.expectRefused(400, "GA.9109", mentioning: "Tag key is empty") {
            try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, [ResourceTag(key: "", value: "1")])
        }
        try await f.expectRefused(400, "GA.9109", mentioning: "Tag key is empty") {
            try await f.controlPlane.removeTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, keys: ["env", ""])
        }
        let kept = try await f.controlPlane.tags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id)
        #expect(kept == [ResourceTag(key: "env", value: "prod")])
    }

    @Test func tagsAreFoundOnlyOnTheirKindAndAccount() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator(tags: [ResourceTag(key: "env", value: "prod")])
        await expectGAError(404, "GA.9002", mentioning: accelerator.id) {
            _ = try await f.controlPlane.tags(ListenerSpec.self, domainID: f.domainID, id: accelerator.id)
        }
        try await f.expectRefused(404, "GA.9002") {
            try await f.controlPlane.addTags(ListenerSpec.self, domainID: f.domainID, id: accelerator.id, [ResourceTag(key: "a", value: "1")])
        }
        try await f.expectRefused(404, "GA.9002") {
            try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.otherDomainID, id: accelerator.id, [ResourceTag(key: "a", value: "1")])
        }
        try await f.expectRefused(404, "GA.9002") {
            try await f.controlPlane.removeTags(AcceleratorSpec.self, domainID: f.otherDomainID, id: accelerator.id, keys: ["env"])
        }
        let kept = try await f.controlPlane.tags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id)
        #expect(kept == [ResourceTag(key: "env", value: "prod")])
    }

    @Test func tagKeysListEachKeyWithItsDistinctValues() async throws {
        let f = Fixture()
        let web = try await f.accelerator("web", tags: [ResourceTag(key: "team", value: "core"), ResourceTag(key: "env", value: "prod")])
        _ = try await f.accelerator("api", tags: [ResourceTag(key: "env", value: "dev")])
        _ = try await f.accelerator("batch", tags: [ResourceTag(key: "env", value: "prod")])
        _ = try await f.accelerator("bare")
        let listener = try await f.listener(on: web.id)
        try await f.controlPlane.addTags(ListenerSpec.self, domainID: f.domainID, id: listener.id, [ResourceTag(key: "tier", value: "edge")])
        #expect(
            try await f.controlPlane.tagKeys(AcceleratorSpec.self, domainID: f.domainID) == [
                TagValues(key: "env", values: ["dev", "prod"]), TagValues(key: "team", values: ["core"]),
            ]
        )
        #expect(try await f.controlPlane.tagKeys(ListenerSpec.self, domainID: f.domainID) == [TagValues(key: "tier", values: ["edge"])])
        #expect(try await f.controlPlane.tagKeys(AcceleratorSpec.self, domainID: f.otherDomainID).isEmpty)
    }

    @Test func theTagFilterAndsKeysOrsValuesAndSkipsWhatIsGoingAway() async throws {
        let f = Fixture()
        let web = try await f.accelerator("web", tags: [ResourceTag(key: "env", value: "prod")])
        let api = try await f.accelerator("api", tags: [ResourceTag(key: "env", value: "dev"), ResourceTag(key: "team", value: "core")])
        let batch = try await f.accelerator("batch", tags: [ResourceTag(key: "team", value: "data")])
        func matching(_ filter: String, in domainID: String? = nil) async throws -> [String] {
            let filter = try decode(TagOptions.Filter.self, filter)
            return try await f.controlPlane.resources(AcceleratorSpec.self, domainID: domainID ?? f.domainID, matching: filter).map(\.resourceID)
        }
        #expect(try await matching(#"{"tags": [{"key": "team", "values": ["core", "data"]}]}"#) == [api.id, batch.id])
        #expect(try await matching(#"{"tags": [{"key": "team", "values": []}, {"key": "env", "values": ["dev"]}]}"#) == [api.id])
        #expect(try await matching(#"{"matches": [{"key": "resource_name", "value": "bat"}]}"#) == [batch.id])
        #expect(try await matching("{}") == [web.id, api.id, batch.id])
        let found = try await f.controlPlane.resources(AcceleratorSpec.self, domainID: f.domainID, matching: TagOptions.Filter())
        #expect(found.first?.resourceName == "web")
        #expect(found.first?.tags == [ResourceTag(key: "env", value: "prod")])
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: batch.id)
        #expect(try await matching("{}") == [web.id, api.id])
        #expect(try await matching("{}", in: f.otherDomainID).isEmpty)
        await expectGAError(400, "GA.9108", mentioning: "Tag value is duplicated") {
            _ = try await matching(#"{"tags": [{"key": "env", "values": ["a", "a"]}]}"#)
        }
        await expectGAError(400, "GA.9107") { _ = try await matching(#"{"tags": [{"key": "env", "values": []}, {"key": "env", "values": []}]}"#) }
        await expectGAError(400, "GA.9109") { _ = try await matching(#"{"tags": [{"key": "", "values": []}]}"#) }
    }
}

// MARK: - Tenancy

/// Guards the wall between accounts: another account's resources are GA.9002 for every read and write, never
/// listed, and cannot be anyone's parent; each account's quotas are its own.
@Suite struct TenancyRuleTests {
    @Test func anotherAccountsResourcesAreNotFoundAndNeverListed() async throws {
        let f = Fixture()
        let cp = f.controlPlane
        let (accelerator, listener, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let check = try await f.healthCheck(on: group.id)
        let ipGroup = try await f.ipGroup(cidrs: ["192.0.2.0/24"])
        let logtank = try await f.logtank(on: listener.id)
        let b = f.otherDomainID

        // Reads.
        await expectGAError(404, "GA.9002", mentioning: accelerator.id) { _ = try await cp.accelerator(domainID: b, id: accelerator.id) }
        await expectGAError(404, "GA.9002", mentioning: listener.id) { _ = try await cp.listener(domainID: b, id: listener.id) }
        await expectGAError(404, "GA.9002", mentioning: group.id) { _ = try await cp.endpointGroup(domainID: b, id: group.id) }
        await expectGAError(404, "GA.9002") { _ = try await cp.endpoint(domainID: b, groupID: group.id, id: endpoint.id) }
        await expectGAError(404, "GA.9002") { _ = try await cp.endpoints(domainID: b, groupID: group.id, query: ListQuery()) }
        await expectGAError(404, "GA.9002", mentioning: check.id) { _ = try await cp.healthCheck(domainID: b, id: check.id) }
        await expectGAError(404, "GA.9002", mentioning: ipGroup.id) { _ = try await cp.ipGroup(domainID: b, id: ipGroup.id) }
        await expectGAError(404, "GA.9002", mentioning: logtank.id) { _ = try await cp.logtank(domainID: b, id: logtank.id) }
        await expectGAError(404, "GA.9002") { _ = try await cp.tags(AcceleratorSpec.self, domainID: b, id: accelerator.id) }

        // Updates.
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.updateAccelerator(domainID: b, id: accelerator.id, decode(AcceleratorOptions.Update.self, "{}"))
        }
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.updateListener(domainID: b, id: listener.id, decode(ListenerOptions.Update.self, "{}"))
        }
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.updateEndpointGroup(domainID: b, id: group.id, decode(EndpointGroupOptions.Update.self, "{}"))
        }
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.updateEndpoint(domainID: b, groupID: group.id, id: endpoint.id, decode(EndpointOptions.Update.self, "{}"))
        }
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.updateHealthCheck(domainID: b, id: check.id, decode(HealthCheckOptions.Update.self, "{}"))
        }
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.updateIPGroup(domainID: b, id: ipGroup.id, decode(IPGroupOptions.Update.self, "{}"))
        }
        try await f.expectRefused(404, "GA.9002") { try await cp.addIPs(domainID: b, id: ipGroup.id, Fixture.addIPs(["10.0.0.0/8"])) }
        try await f.expectRefused(404, "GA.9002") { try await cp.removeIPs(domainID: b, id: ipGroup.id, Fixture.removeIPs(["192.0.2.0/24"])) }
        try await f.expectRefused(404, "GA.9002") {
            let options = try decode(LogtankOptions.Update.self, #"{"log_group_id": "a", "log_stream_id": "b"}"#)
            _ = try await cp.updateLogtank(domainID: b, id: logtank.id, options)
        }

        // Deletes.
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteAccelerator(domainID: b, id: accelerator.id) }
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteListener(domainID: b, id: listener.id) }
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteEndpointGroup(domainID: b, id: group.id) }
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteEndpoint(domainID: b, groupID: group.id, id: endpoint.id) }
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteHealthCheck(domainID: b, id: check.id) }
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteIPGroup(domainID: b, id: ipGroup.id) }
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteLogtank(domainID: b, id: logtank.id) }

        // Children under the owner's resources.
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.createListener(domainID: b, Fixture.listenerOptions(on: accelerator.id, [90...90]))
        }
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.createEndpointGroup(domainID: b, Fixture.endpointGroupOptions(on: listener.id, region: "cn-north-4"))
        }
        try await f.expectRefused(404, "GA.9002") {
            _ = try await cp.createEndpoint(domainID: b, groupID: group.id, Fixture.endpointOptions(ip: "127.0.0.9"))
        }
        try await f.expectRefused(404, "GA.9002") { _ = try await cp.createLogtank(domainID: b, Fixture.logtankOptions(on: listener.id)) }
        let own = try await cp.createIPGroup(domainID: b, Fixture.ipGroupOptions("b"))
        try await f.expectRefused(404, "GA.9002") { try await cp.associateListener(domainID: b, id: own.id, Fixture.associate(listener.id)) }

        // Lists.
        #expect(try await cp.accelerators(domainID: b, query: ListQuery()).items.isEmpty)
        #expect(try await cp.listeners(domainID: b, query: ListQuery()).items.isEmpty)
        #expect(try await cp.endpointGroups(domainID: b, query: ListQuery()).items.isEmpty)
        #expect(try await cp.healthChecks(domainID: b, query: ListQuery()).items.isEmpty)
        #expect(try await cp.logtanks(domainID: b, query: ListQuery(), resourceIDs: []).items.isEmpty)
        #expect(try await cp.ipGroups(domainID: b, query: ListQuery(), listenerID: nil).items.map(\.id) == [own.id])
        #expect(try await cp.ipGroups(domainID: b, query: ListQuery(), listenerID: listener.id).items.isEmpty)

        // The owner's resources are intact.
        #expect(try await cp.accelerator(domainID: f.domainID, id: accelerator.id).status == .pending)
        #expect(try await cp.endpoints(domainID: f.domainID, groupID: group.id, query: ListQuery()).items.map(\.id) == [endpoint.id])
        #expect(try await cp.ipGroup(domainID: f.domainID, id: ipGroup.id).spec.ipList.map(\.cidr) == ["192.0.2.0/24"])
        #expect(try await cp.ipGroups(domainID: f.domainID, query: ListQuery(), listenerID: nil).items.map(\.id) == [ipGroup.id])
    }

    @Test func quotasAreCountedPerAccount() async throws {
        let f = Fixture {
            $0.quotas.acceleratorsPerAccount = 1
            $0.quotas.ipGroupsPerAccount = 1
        }
        _ = try await f.accelerator()
        _ = try await f.ipGroup()
        _ = try await f.accelerator(domainID: f.otherDomainID)
        _ = try await f.controlPlane.createIPGroup(domainID: f.otherDomainID, Fixture.ipGroupOptions())
        let usage = try await f.controlPlane.quotas(domainID: f.domainID)
        #expect(usage.first { $0.type == "accelerator_per_tenant" }?.used == 1)
        #expect(usage.first { $0.type == "ip_group_per_tenant" }?.used == 1)
    }
}

// MARK: - Paging

/// Guards marker paging through ``ListQuery``: pages in creation order, `next_marker` only when more follow,
/// `page_reverse` walking back from the marker, a marker that outlives its item, and the list filters.
@Suite struct PagingRuleTests {
    /// Seven listeners on one accelerator, in creation order.
    static func sevenListeners(_ f: Fixture) async throws -> [String] {
        let accelerator = try await f.accelerator()
        var ids: [String] = []
        for index in 0..<7 {
            ids.append(try await f.listener(on: accelerator.id, [(1000 + index)...(1000 + index)], name: "l-\(index)").id)
        }
        return ids
    }

    func page(_ f: Fixture, limit: Int? = nil, marker: String? = nil, reverse: Bool = false) async throws -> Page<ListenerSpec> {
        var query = ListQuery()
        if let limit { query.limit = limit }
        query.marker = marker
        query.pageReverse = reverse
        return try await f.controlPlane.listeners(domainID: f.domainID, query: query)
    }

    @Test func limitAndMarkerPageForwardInCreationOrder() async throws {
        let f = Fixture()
        let ids = try await Self.sevenListeners(f)
        #expect(ids == ids.sorted())
        var seen: [String] = []
        var markers: [String?] = []
        var marker: String?
        repeat {
            let page = try await self.page(f, limit: 3, marker: marker)
            seen += page.items.map(\.id)
            markers.append(page.nextMarker)
            marker = page.nextMarker
        } while marker != nil && markers.count < 10
        #expect(seen == ids)
        #expect(markers == [ids[2], ids[5], nil])
        // A page that ends exactly with the last item says no more follow.
        #expect(try await self.page(f, limit: 7).nextMarker == nil)
        #expect(try await self.page(f, limit: 6).nextMarker == ids[5])
        // Without a limit everything comes at once; past the end comes an empty page (where a terraform pager stops).
        #expect(try await self.page(f).items.map(\.id) == ids)
        let end = try await self.page(f, marker: ids[6])
        #expect(end.items.isEmpty)
        #expect(end.nextMarker == nil)
    }

    @Test func pageReverseWalksBackFromTheMarker() async throws {
        let f = Fixture()
        let ids = try await Self.sevenListeners(f)
        let back = try await self.page(f, limit: 2, marker: ids[4], reverse: true)
        #expect(back.items.map(\.id) == [ids[3], ids[2]])
        #expect(back.nextMarker == ids[2])
        let fromTheEnd = try await self.page(f, limit: 3, reverse: true)
        #expect(fromTheEnd.items.map(\.id) == [ids[6], ids[5], ids[4]])
        #expect(fromTheEnd.nextMarker == ids[4])
        let beforeTheFirst = try await self.page(f, limit: 3, marker: ids[0], reverse: true)
        #expect(beforeTheFirst.items.isEmpty)
        #expect(beforeTheFirst.nextMarker == nil)
    }

    @Test func aMarkerOutlivesItsItem() async throws {
        let f = Fixture()
        let ids = try await Self.sevenListeners(f)
        try await f.controlPlane.deleteListener(domainID: f.domainID, id: ids[2])
        try await f.settle()
        #expect(try await f.stored(ListenerSpec.self, ids[2]) == nil)
        #expect(try await self.page(f, limit: 2, marker: ids[2]).items.map(\.id) == [ids[3], ids[4]])
    }

    @Test func filtersNarrowTheList() async throws {
        let f = Fixture()
        let first = try await f.accelerator("first")
        let second = try await f.accelerator("second", enterpriseProjectID: "ep-1")
        let web = try await f.listener(on: first.id, [80...80], name: "web")
        let api = try await f.listener(on: first.id, [81...81], name: "api")
        let other = try await f.listener(on: second.id, [80...80], name: "web")
        try await f.settle()
        _ = try await f.controlPlane.updateListener(domainID: f.domainID, id: api.id, decode(ListenerOptions.Update.self, #"{"description": "x"}"#))
        func listeners(_ change: (inout ListQuery) -> Void) async throws -> [String] {
            var query = ListQuery()
            change(&query)
            return try await f.controlPlane.listeners(domainID: f.domainID, query: query).items.map(\.id)
        }
        #expect(try await listeners { $0.parentID = first.id } == [web.id, api.id])
        #expect(try await listeners { $0.name = "web" } == [web.id, other.id])
        #expect(try await listeners { $0.id = other.id } == [other.id])
        #expect(try await listeners { $0.status = .active } == [web.id, other.id])
        #expect(try await listeners { $0.status = .pending } == [api.id])
        #expect(try await listeners { $0.status = .error }.isEmpty)
        var byProject = ListQuery()
        byProject.enterpriseProjectID = "ep-1"
        #expect(try await f.controlPlane.accelerators(domainID: f.domainID, query: byProject).items.map(\.id) == [second.id])
        byProject.enterpriseProjectID = "nope"
        #expect(try await f.controlPlane.accelerators(domainID: f.domainID, query: byProject).items.isEmpty)
    }
}

// MARK: - Revisions

/// Collects the revisions the control plane reports after its commits.
final class CommitRecorder: Sendable {
    private let revisions = Mutex<[Int64]>([])

    func record(_ revision: Int64) {
        self.revisions.withLock { $0.append(revision) }
    }

    var recorded: [Int64] { self.revisions.withLock { $0 } }
}

/// Guards the configuration revision: every accepted write commits exactly one new revision and stamps what it wrote
/// with it; a refused write commits nothing (revision and snapshot as before); settling a report is not a write.
@Suite struct RevisionRuleTests {
    @Test func everyWriteBumpsTheRevisionByOne() async throws {
        let f = Fixture()
        let cp = f.controlPlane
        let d = f.domainID
        #expect(try await f.revision() == 0)
        let accelerator = try await f.expectBump { try await f.accelerator() }
        #expect(accelerator.revision == 1)
        let listener = try await f.expectBump { try await f.listener(on: accelerator.id) }
        #expect(listener.revision == 2)
        let group = try await f.expectBump { try await f.endpointGroup(on: listener.id) }
        let endpoint = try await f.expectBump { try await f.endpoint(in: group.id) }
        let check = try await f.expectBump { try await f.healthCheck(on: group.id) }
        let logtank = try await f.expectBump { try await f.logtank(on: listener.id) }
        let ipGroup = try await f.expectBump { try await f.ipGroup() }
        #expect(ipGroup.revision == 7)

        let updated = try await f.expectBump {
            try await cp.updateAccelerator(domainID: d, id: accelerator.id, decode(AcceleratorOptions.Update.self, "{}"))
        }
        #expect(updated.revision == 8)
        try await f.expectBump { _ = try await cp.updateListener(domainID: d, id: listener.id, decode(ListenerOptions.Update.self, "{}")) }
        try await f.expectBump { _ = try await cp.updateEndpointGroup(domainID: d, id: group.id, decode(EndpointGroupOptions.Update.self, "{}")) }
        try await f.expectBump {
            _ = try await cp.updateEndpoint(domainID: d, groupID: group.id, id: endpoint.id, decode(EndpointOptions.Update.self, "{}"))
        }
        try await f.expectBump { _ = try await cp.updateHealthCheck(domainID: d, id: check.id, decode(HealthCheckOptions.Update.self, "{}")) }
        try await f.expectBump {
            let options = try decode(LogtankOptions.Update.self, #"{"log_group_id": "a", "log_stream_id": "b"}"#)
            _ = try await cp.updateLogtank(domainID: d, id: logtank.id, options)
        }
        try await f.expectBump { _ = try await cp.updateIPGroup(domainID: d, id: ipGroup.id, decode(IPGroupOptions.Update.self, "{}")) }
        try await f.expectBump { try await cp.addIPs(domainID: d, id: ipGroup.id, Fixture.addIPs(["10.0.0.0/8"])) }
        try await f.expectBump { try await cp.removeIPs(domainID: d, id: ipGroup.id, Fixture.removeIPs(["10.0.0.0/8"])) }
        try await f.expectBump { try await cp.associateListener(domainID: d, id: ipGroup.id, Fixture.associate(listener.id)) }
        try await f.expectBump { try await cp.disassociateListener(domainID: d, id: ipGroup.id, Fixture.disassociate(listener.id)) }
        try await f.expectBump { try await cp.addTags(AcceleratorSpec.self, domainID: d, id: accelerator.id, [ResourceTag(key: "a", value: "1")]) }
        try await f.expectBump { try await cp.removeTags(AcceleratorSpec.self, domainID: d, id: accelerator.id, keys: ["a"]) }
        #expect(try await f.revision() == 20)

        try await f.expectBump { try await cp.deleteEndpoint(domainID: d, groupID: group.id, id: endpoint.id) }
        try await f.expectBump { try await cp.deleteHealthCheck(domainID: d, id: check.id) }
        try await f.expectBump { try await cp.deleteLogtank(domainID: d, id: logtank.id) }
        try await f.expectBump { try await cp.deleteIPGroup(domainID: d, id: ipGroup.id) }
        #expect(try await f.stored(IPGroupSpec.self, ipGroup.id)?.revision == 24)
        // Settling is not a write: it moves statuses, never the revision.
        try await f.settle()
        #expect(try await f.revision() == 24)
        try await f.expectBump { try await cp.deleteEndpointGroup(domainID: d, id: group.id) }
        try await f.settle()
        try await f.expectBump { try await cp.deleteListener(domainID: d, id: listener.id) }
        try await f.settle()
        try await f.expectBump { try await cp.deleteAccelerator(domainID: d, id: accelerator.id) }
        #expect(try await f.revision() == 27)
    }

    @Test func refusedWritesCommitNothing() async throws {
        let f = Fixture { $0.quotas.acceleratorsPerAccount = 2 }
        let cp = f.controlPlane
        let d = f.domainID
        let (accelerator, listener, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let ipGroup = try await f.ipGroup(cidrs: ["192.0.2.0/24"])
        _ = try await f.accelerator("second")
        let snapshot = try await cp.snapshot()

        try await f.expectRefused(400, "GA.9103") { _ = try await cp.createAccelerator(domainID: d, Fixture.acceleratorOptions("third")) }
        try await f.expectRefused(400, "GA.9101") {
            _ = try await cp.createListener(domainID: d, Fixture.listenerOptions(on: accelerator.id, [80...80]))
        }
        try await f.expectRefused(400, "GA.9104") { _ = try await cp.createEndpointGroup(domainID: d, Fixture.endpointGroupOptions(on: listener.id)) }
        try await f.expectRefused(400, "GA.9104") { _ = try await cp.createEndpoint(domainID: d, groupID: group.id, Fixture.endpointOptions()) }
        try await f.expectRefused(400, "GA.9001") {
            _ = try await cp.createHealthCheck(domainID: d, Fixture.healthCheckOptions(on: group.id, interval: 1, timeout: 2))
        }
        try await f.expectRefused(400, "GA.9001") { try await cp.removeIPs(domainID: d, id: ipGroup.id, Fixture.removeIPs(["10.0.0.0/8"])) }
        try await f.expectRefused(409, "GA.9005") { try await cp.deleteAccelerator(domainID: d, id: accelerator.id) }
        try await f.expectRefused(409, "GA.9005") { try await cp.deleteEndpointGroup(domainID: d, id: group.id) }
        try await f.expectRefused(404, "GA.9002") { try await cp.deleteEndpoint(domainID: d, groupID: group.id, id: missingID) }
        try await f.controlPlane.deleteEndpoint(domainID: d, groupID: group.id, id: endpoint.id)
        let deleting = try await cp.snapshot()
        try await f.expectRefused(400, "GA.9004") {
            _ = try await cp.updateEndpoint(domainID: d, groupID: group.id, id: endpoint.id, decode(EndpointOptions.Update.self, "{}"))
        }
        #expect(try await cp.snapshot() == deleting)
        #expect(deleting.revision == snapshot.revision + 1)
        #expect(deleting.endpoints.isEmpty)
        var expected = snapshot
        expected.revision += 1
        expected.endpoints = []
        #expect(deleting == expected)
    }

    @Test func theCommitHookIsToldEachCommittedRevision() async throws {
        let recorder = CommitRecorder()
        let f = Fixture(onCommit: { recorder.record($0) })
        let accelerator = try await f.accelerator()
        try await f.expectRefused(404, "GA.9002") {
            _ = try await f.controlPlane.createListener(domainID: f.domainID, Fixture.listenerOptions(on: missingID))
        }
        _ = try await f.listener(on: accelerator.id)
        try await f.settle()
        try await f.controlPlane.addTags(AcceleratorSpec.self, domainID: f.domainID, id: accelerator.id, [ResourceTag(key: "a", value: "1")])
        #expect(recorder.recorded == [1, 2, 3])
    }
}

// MARK: - Snapshot

/// Guards the snapshot a PoP serves: every resource of every account that is not DELETING — PENDING and ERROR ones
/// included — at the current revision, and nothing else.
@Suite struct SnapshotRuleTests {
    @Test func theSnapshotHoldsExactlyTheResourcesThatAreNotGoingAway() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let web = try await f.listener(on: accelerator.id, [80...80])
        let dns = try await f.listener(on: accelerator.id, [53...53], protocol: "UDP")
        let group = try await f.endpointGroup(on: web.id)
        let kept = try await f.endpoint(in: group.id, ip: "127.0.0.2")
        let dropped = try await f.endpoint(in: group.id, ip: "127.0.0.3")
        let check = try await f.healthCheck(on: group.id)
        let office = try await f.ipGroup("office", cidrs: ["192.0.2.0/24", "2001:db8::/32"])
        _ = try await f.ipGroup("spare", cidrs: ["198.51.100.0/24"])
        try await f.controlPlane.associateListener(domainID: f.domainID, id: office.id, Fixture.associate(web.id, "WHITE"))
        _ = try await f.logtank(on: web.id, stream: "web")
        let dnsLog = try await f.logtank(on: dns.id, stream: "dns")
        let foreign = try await f.accelerator("foreign", domainID: f.otherDomainID)
        try await f.controlPlane.deleteEndpoint(domainID: f.domainID, groupID: group.id, id: dropped.id)
        try await f.controlPlane.deleteLogtank(domainID: f.domainID, id: dnsLog.id)

        let revision = try await f.revision()
        var expected = ConfigSnapshot(
            revision: revision,
            accelerators: [.init(id: accelerator.id, addresses: ["127.10.0.1"]), .init(id: foreign.id, addresses: ["127.10.0.2"])],
            listeners: [
                .init(
                    id: web.id,
                    acceleratorID: accelerator.id,
                    protocol: .tcp,
                    portRanges: [PortRange(fromPort: 80, toPort: 80)],
                    clientAffinity: ClientAffinity.none
                ),
                .init(
                    id: dns.id,
                    acceleratorID: accelerator.id,
                    protocol: .udp,
                    portRanges: [PortRange(fromPort: 53, toPort: 53)],
                    clientAffinity: ClientAffinity.none
                ),
            ],
            endpointGroups: [.init(id: group.id, listenerID: web.id, regionID: "ap-southeast-1", trafficDialPercentage: 100)],
            endpoints: [.init(id: kept.id, groupID: group.id, address: "127.0.0.2", weight: 1)],
            healthChecks: [.init(id: check.id, groupID: group.id, protocol: .tcp, port: 80, interval: 5, timeout: 3, maxRetries: 3, enabled: true)],
            accessControls: [.init(listenerID: web.id, type: .allow, cidrs: ["192.0.2.0/24", "2001:db8::/32"])],
            logSinks: [.init(listenerID: web.id, logGroupID: "access", logStreamID: "web")]
        )
        #expect(try await f.controlPlane.snapshot() == expected)
        // Statuses do not matter to what is served, and settling writes no new revision: an ERROR listener is still
        // configured, and what was DELETING is gone from the store as it already was from the snapshot.
        try await f.settle(failing: [(.listener, dns.id)])
        #expect(try await f.status(ListenerSpec.self, dns.id) == .error)
        #expect(try await f.stored(EndpointSpec.self, dropped.id) == nil)
        #expect(try await f.controlPlane.snapshot() == expected)
        // A new write is served at its revision.
        try await f.controlPlane.addIPs(domainID: f.domainID, id: office.id, Fixture.addIPs(["203.0.113.0/24"]))
        expected.revision += 1
        expected.accessControls = [.init(listenerID: web.id, type: .allow, cidrs: ["192.0.2.0/24", "2001:db8::/32", "203.0.113.0/24"])]
        #expect(try await f.controlPlane.snapshot() == expected)
    }
}

// MARK: - Settling reports

/// Guards how a PoP report settles the store: PENDING becomes ACTIVE once the PoP has its revision, ERROR for what
/// the report names, DELETING resources disappear (and release their addresses), reports older than a resource's
/// last write leave it alone, and endpoint health is recorded only when ``ResourceLifecycle/acceptsHealth`` allows.
@Suite struct SettleRuleTests {
    @Test func pendingBecomesActiveOnceThePoPHasItsRevision() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        try await f.settle(at: accelerator.revision)
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .active)
        #expect(try await f.status(ListenerSpec.self, listener.id) == .pending)
        // The status moves, the resource's revision does not.
        #expect(try await f.stored(AcceleratorSpec.self, accelerator.id)?.revision == accelerator.revision)
        try await f.settle(at: listener.revision)
        #expect(try await f.status(ListenerSpec.self, listener.id) == .active)
        #expect(try await f.revision() == listener.revision)
    }

    @Test func whatTheReportNamesBecomesErrorUntilAReportNoLongerNamesIt() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        let listener = try await f.listener(on: accelerator.id)
        try await f.settle(failing: [(.listener, listener.id)])
        #expect(try await f.status(ListenerSpec.self, listener.id) == .error)
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .active)
        try await f.settle(failing: [(.listener, listener.id)])
        #expect(try await f.status(ListenerSpec.self, listener.id) == .error)
        // The PoP's retry applied it.
        try await f.settle()
        #expect(try await f.status(ListenerSpec.self, listener.id) == .active)
        // What was ACTIVE fails when a later report names it.
        try await f.settle(failing: [(.accelerator, accelerator.id)])
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .error)
    }

    @Test func deletingResourcesDisappearOnceThePoPHasTheirRevision() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        try await f.settle()
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id)
        let deleted = try await f.revision()
        try await f.settle(at: deleted - 1)
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .deleting)
        #expect(try await f.addressesInUse() == ["127.10.0.1"])
        try await f.settle(at: deleted)
        #expect(try await f.stored(AcceleratorSpec.self, accelerator.id) == nil)
        #expect(try await f.addressesInUse().isEmpty)
        await expectGAError(404, "GA.9002", mentioning: accelerator.id) {
            _ = try await f.controlPlane.accelerator(domainID: f.domainID, id: accelerator.id)
        }
    }

    @Test func aReportOlderThanTheLastWriteLeavesTheResourceAlone() async throws {
        let f = Fixture()
        let accelerator = try await f.accelerator()
        try await f.settle(at: accelerator.revision)
        let updated = try await f.controlPlane.updateAccelerator(
            domainID: f.domainID,
            id: accelerator.id,
            decode(AcceleratorOptions.Update.self, "{}")
        )
        try await f.settle(at: accelerator.revision, failing: [(.accelerator, accelerator.id)])
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .pending)
        try await f.settle(at: updated.revision)
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .active)
        try await f.controlPlane.deleteAccelerator(domainID: f.domainID, id: accelerator.id)
        try await f.settle(at: updated.revision, failing: [(.accelerator, accelerator.id)])
        #expect(try await f.status(AcceleratorSpec.self, accelerator.id) == .deleting)
    }

    @Test func healthIsRecordedOnlyWhenThePoPProbedTheCurrentEndpointAndCheck() async throws {
        let f = Fixture()
        let (_, _, group) = try await f.chain()
        let endpoint = try await f.endpoint(in: group.id)
        let check = try await f.healthCheck(on: group.id)
        #expect(try await f.health(endpoint.id) == .initial)
        // The PoP's revision has the endpoint but not yet the check.
        let accepted = ResourceLifecycle.acceptsHealth(
            endpointRevision: endpoint.revision,
            healthCheckRevision: check.revision,
            appliedRevision: endpoint.revision
        )
        #expect(!accepted)
        try await f.settle(at: endpoint.revision, health: [endpoint.id: .healthy])
        #expect(try await f.health(endpoint.id) == .initial)
        try await f.settle(at: check.revision, health: [endpoint.id: .healthy])
        #expect(try await f.health(endpoint.id) == .healthy)
        // An endpoint changed after the PoP's revision keeps its health until the PoP has the change.
        let weighted = try await f.controlPlane.updateEndpoint(
            domainID: f.domainID,
            groupID: group.id,
            id: endpoint.id,
            decode(EndpointOptions.Update.self, #"{"weight": 5}"#)
        )
        try await f.settle(at: check.revision, health: [endpoint.id: .unhealthy])
        #expect(try await f.health(endpoint.id) == .healthy)
        try await f.settle(at: weighted.revision, health: [endpoint.id: .unhealthy])
        #expect(try await f.health(endpoint.id) == .unhealthy)
        // Verdicts about endpoints the store does not have are ignored.
        try await f.settle(health: [missingID: .healthy])
        #expect(try await f.stored(EndpointSpec.self, missingID) == nil)
    }
}

// MARK: - Accounts

/// Guards accounts: a new account's credentials work (password, access key and its sealed secret), names follow the
/// naming rule (GA.9001) and are unique (IAM.0001, 409).
@Suite struct AccountRuleTests {
    static func accounts(_ store: any ControlPlaneStore = InMemoryStore()) throws -> AccountStore {
        AccountStore(store: store, masterKey: try MasterKey(bytes: MasterKey.generate()))
    }

    @Test func aNewAccountsCredentialsWork() async throws {
        let store = InMemoryStore()
        let accounts = try Self.accounts(store)
        let credentials = try await accounts.createAccount(name: "tenant-a")
        #expect(credentials.domainName == "tenant-a")
        #expect(credentials.userName == "tenant-a")
        #expect(credentials.domainID.count == 32)
        #expect(credentials.accessKey.count == 20)
        #expect(credentials.secretKey.count == 40)
        #expect(try await accounts.accountCount() == 1)
        let caller = Caller(domainID: credentials.domainID, domainName: "tenant-a", userName: "tenant-a")
        #expect(try await accounts.caller(domainID: credentials.domainID) == caller)

        #expect(try await accounts.authenticate(domainName: "tenant-a", userName: "tenant-a", password: credentials.password) == caller)
        #expect(try await accounts.authenticate(domainName: "tenant-a", userName: "tenant-a", password: credentials.password + "x") == nil)
        #expect(try await accounts.authenticate(domainName: "tenant-a", userName: "someone", password: credentials.password) == nil)
        #expect(try await accounts.authenticate(domainName: "tenant-b", userName: "tenant-a", password: credentials.password) == nil)

        let found = try #require(try await accounts.secret(forAccessKey: credentials.accessKey))
        #expect(found.secret == credentials.secretKey)
        #expect(found.caller == caller)
        #expect(try await accounts.secret(forAccessKey: "NOSUCHACCESSKEY00000").map { $0.secret } == nil)
        // At rest the secret is sealed, and only the master key opens it.
        let sealed = try #require(try await store.read { tx in try await tx.accessKey(credentials.accessKey) }?.sealedSecret)
        #expect(sealed != credentials.secretKey)
        #expect(!sealed.contains(credentials.secretKey))
        let otherKey = try Self.accounts(store)
        await #expect(throws: (any Error).self) { _ = try await otherKey.secret(forAccessKey: credentials.accessKey) }
    }

    @Test func aTakenNameIsIAM0001() async throws {
        let accounts = try Self.accounts()
        let first = try await accounts.createAccount(name: "tenant-a")
        await expectGAError(409, "IAM.0001", mentioning: "tenant-a") { _ = try await accounts.createAccount(name: "tenant-a") }
        #expect(try await accounts.accountCount() == 1)
        #expect(try await accounts.secret(forAccessKey: first.accessKey)?.caller.domainID == first.domainID)
    }

    @Test func namesFollowTheNamingRule() async throws {
        let accounts = try Self.accounts()
        for name in ["bad_name", "a b", "ns/1", "<x>", String(repeating: "a", count: 65)] {
            await expectGAError(400, "GA.9001", mentioning: "Invalid name") { _ = try await accounts.createAccount(name: name) }
        }
        #expect(try await accounts.accountCount() == 0)
        _ = try await accounts.createAccount(name: String(repeating: "a", count: 64))
        _ = try await accounts.createAccount(name: "租户-1")
        #expect(try await accounts.accountCount() == 2)
    }

    @Test func anEmptyNameIsRefused() async throws {
        // `slipstream admin create-account --name ""` reaches createAccount with no request schema in between; names
        // are 1–64 characters (the API reference's name rule).
        let accounts = try Self.accounts()
        await expectGAError(400, "GA.9001", mentioning: "name") { _ = try await accounts.createAccount(name: "") }
        #expect(try await accounts.accountCount() == 0)
    }
}
