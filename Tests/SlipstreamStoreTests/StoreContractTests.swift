import Foundation
import Logging
import SQLKit
import SlipstreamControlPlane
import SlipstreamModel
import Testing

@testable import SlipstreamStore
@testable import SlipstreamTestSupport

/// The contract of the control plane's store, held by both implementations: the SQL store on a real SQLite file and
/// the in-memory store the rule tests run on. A rule test that passes on the in-memory store therefore says something
/// about the SQL store too.
@Suite struct StoreContractTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres, inMemory
        var testDescription: String { self.rawValue }

        /// The stores this run can reach: PostgreSQL when `SLIPSTREAM_TEST_DATABASE_URL` names a server.
        static var available: [Kind] { TestPostgres.url == nil ? [.sqlite, .inMemory] : Self.allCases }
    }

    /// A store of `kind`, closed (and its file removed) after `body`.
    static func withStore(_ kind: Kind, _ body: (any ControlPlaneStore) async throws -> Void) async throws {
        switch kind {
        case .inMemory:
            try await body(InMemoryStore())
        case .postgres:
            try await TestPostgres.withDatabase { url in
                let store = SQLStore(driver: try await PostgresDriver.open(url: url, logger: Logger(label: "test")))
                do {
                    try await body(store)
                } catch {
                    try? await store.close()
                    throw error
                }
                try await store.close()
            }
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let driver = try await SQLiteDriver.open(path: directory.appendingPathComponent("s.sqlite").path, logger: Logger(label: "test"))
            let store = SQLStore(driver: driver)
            do {
                try await body(store)
            } catch {
                try? await store.close()
                throw error
            }
            try await store.close()
        }
    }

    /// An accelerator holding an IPv4 and an IPv6 address: its listeners count twice their ports.
    static func dualStackAccelerator(_ id: String, domain: String = "d1") -> Accelerator {
        var accelerator = Self.accelerator(id, domain: domain)
        accelerator.spec.ipSets = [
            AcceleratorIP(ipType: .ipv4, ipAddress: "127.10.0.1", area: .outsideChineseMainland),
            AcceleratorIP(ipType: .ipv6, ipAddress: "fd00::1", area: .outsideChineseMainland),
        ]
        return accelerator
    }

    static func listener(_ id: String, domain: String = "d1", parent: String, ports: ClosedRange<Int>) -> Listener {
        Listener(
            id: id,
            domainID: domain,
            parentID: parent,
            name: id,
            status: .active,
            revision: 1,
            createdAt: "t",
            updatedAt: "t",
            spec: ListenerSpec(
                description: "",
                protocol: .tcp,
                portRanges: [PortRange(fromPort: ports.lowerBound, toPort: ports.upperBound)],
                clientAffinity: .none,
                tags: []
            )
        )
    }

    static func accelerator(_ id: String, domain: String = "d1", status: ResourceStatus = .pending, revision: Int64 = 1) -> Accelerator {
        Accelerator(
            id: id,
            domainID: domain,
            parentID: nil,
            name: "acc-\(id)",
            status: status,
            revision: revision,
            createdAt: "2026-01-01T00:00:00Z",
            updatedAt: "2026-01-01T00:00:00Z",
            spec: AcceleratorSpec(description: "", ipSets: [], enterpriseProjectID: "0", flavorID: "default", tags: [])
        )
    }

    @Test(arguments: Kind.available) func aThrowingWriteChangesNothing(kind: Kind) async throws {
        struct Refused: Error {}
        try await Self.withStore(kind) { store in
            await #expect(throws: Refused.self) {
                try await store.write { tx async throws in
                    _ = try await tx.nextRevision()
                    try await tx.insert(Self.accelerator("a1"))
                    try await tx.reserveAddress("127.10.0.1", acceleratorID: "a1", area: .outsideChineseMainland, ipType: .ipv4)
                    throw Refused()
                }
            }
            try await store.read { tx async throws in
                #expect(try await tx.currentRevision() == 0)
                #expect(try await tx.find(AcceleratorSpec.self, id: "a1") == nil)
                #expect(try await tx.addressesInUse(area: .outsideChineseMainland, ipType: .ipv4).isEmpty)
            }
        }
    }

    @Test(arguments: Kind.available) func revisionsGrowByOnePerWrite(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            var seen: [Int64] = []
            for _ in 0..<5 {
                seen.append(try await store.write { tx in try await tx.nextRevision() })
            }
            #expect(seen == [1, 2, 3, 4, 5])
            #expect(try await store.read { tx in try await tx.currentRevision() } == 5)
        }
    }

    @Test(arguments: Kind.available) func anAddressIsHeldByOneAcceleratorOnly(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            try await store.write { tx async throws in
                try await tx.reserveAddress("127.10.0.1", acceleratorID: "a1", area: .outsideChineseMainland, ipType: .ipv4)
            }
            await #expect(throws: (any Error).self) {
                try await store.write { tx async throws in
                    try await tx.reserveAddress("127.10.0.1", acceleratorID: "a2", area: .outsideChineseMainland, ipType: .ipv4)
                }
            }
            try await store.write { tx async throws in
                try await tx.insert(Self.accelerator("a1"))
                try await tx.remove(.accelerator, id: "a1")
            }
            // Removing the accelerator releases its address.
            try await store.write { tx async throws in
                #expect(try await tx.addressesInUse(area: .outsideChineseMainland, ipType: .ipv4).isEmpty)
                try await tx.reserveAddress("127.10.0.1", acceleratorID: "a2", area: .outsideChineseMainland, ipType: .ipv4)
            }
        }
    }

    @Test(arguments: Kind.available) func listsPageInIDOrderWithinOneAccount(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            try await store.write { tx async throws in
                for index in 0..<7 { try await tx.insert(Self.accelerator("a\(index)")) }
                try await tx.insert(Self.accelerator("b0", domain: "d2"))
            }
            try await store.read { tx async throws in
                var query = ListQuery()
                query.limit = 3
                let first = try await tx.list(AcceleratorSpec.self, domainID: "d1", query: query)
                #expect(first.items.map(\.id) == ["a0", "a1", "a2"])
                #expect(first.nextMarker == "a2")
                query.marker = first.nextMarker
                let second = try await tx.list(AcceleratorSpec.self, domainID: "d1", query: query)
                #expect(second.items.map(\.id) == ["a3", "a4", "a5"])
                query.marker = second.nextMarker
                let last = try await tx.list(AcceleratorSpec.self, domainID: "d1", query: query)
                #expect(last.items.map(\.id) == ["a6"])
                #expect(last.nextMarker == nil)
                var reverse = ListQuery()
                reverse.pageReverse = true
                reverse.marker = "a3"
                #expect(try await tx.list(AcceleratorSpec.self, domainID: "d1", query: reverse).items.map(\.id) == ["a2", "a1", "a0"])
                // Another account's resources are neither found nor listed nor counted.
                #expect(try await tx.find(AcceleratorSpec.self, id: "b0", domainID: "d1") == nil)
                #expect(try await tx.count(.accelerator, domainID: "d1") == 7)
                #expect(try await tx.all(AcceleratorSpec.self, domainID: "d2").map(\.id) == ["b0"])
            }
        }
    }

    @Test(arguments: Kind.available) func unsettledHoldsWhatAReportCanChange(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            try await store.write { tx async throws in
                try await tx.insert(Self.accelerator("pending", status: .pending, revision: 2))
                try await tx.insert(Self.accelerator("active", status: .active, revision: 2))
                try await tx.insert(Self.accelerator("failed", status: .active, revision: 2))
                try await tx.insert(Self.accelerator("later", status: .pending, revision: 9))
                try await tx.insert(Self.accelerator("deleting", status: .deleting, revision: 3))
            }
            let unsettled = try await store.read { tx in try await tx.unsettled(atOrBefore: 3, orAmong: ["failed"]) }
            #expect(Set(unsettled.map(\.id)) == ["pending", "failed", "deleting"])
        }
    }

    /// What lets an incremental snapshot skip counting every kind: the highest revision of any removed resource,
    /// which only grows, and stays when a write that removed something is rolled back.
    @Test(arguments: Kind.available) func removalsRaiseTheRemovedRevision(kind: Kind) async throws {
        struct Refused: Error {}
        try await Self.withStore(kind) { store in
            try await store.write { tx async throws in
                try await tx.insert(Self.accelerator("a5", status: .deleting, revision: 5))
                try await tx.insert(Self.accelerator("a3", status: .deleting, revision: 3))
                try await tx.insert(Self.accelerator("a9", status: .deleting, revision: 9))
            }
            let start = try await store.read { tx in try await tx.removedThrough() }
            try await store.write { tx in try await tx.remove(.accelerator, id: "a5") }
            #expect(try await store.read { tx in try await tx.removedThrough() } == max(start, 5))
            try await store.write { tx in try await tx.remove(.accelerator, id: "a3") }
            // Removing nothing (a wrong kind) changes nothing.
            try await store.write { tx in try await tx.remove(.listener, id: "a9") }
            #expect(try await store.read { tx in try await tx.removedThrough() } == max(start, 5))
            await #expect(throws: Refused.self) {
                try await store.write { tx async throws in
                    try await tx.remove(.accelerator, id: "a9")
                    throw Refused()
                }
            }
            #expect(try await store.read { tx in try await tx.removedThrough() } == max(start, 5))
            try await store.write { tx in try await tx.remove(.accelerator, id: "a9") }
            #expect(try await store.read { tx in try await tx.removedThrough() } == max(start, 9))
        }
    }

    @Test(arguments: Kind.available) func updatesKeepParentAndCreationTime(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            try await store.write { tx in try await tx.insert(Self.accelerator("a1")) }
            try await store.write { tx async throws in
                var changed = Self.accelerator("a1", status: .active, revision: 4)
                changed.name = "renamed"
                changed.createdAt = "ignored"
                changed.updatedAt = "2026-02-02T00:00:00Z"
                changed.healthState = .healthy
                try await tx.update(changed)
                try await tx.setStatus(.accelerator, id: "a1", .deleting, revision: 5, updatedAt: nil)
            }
            let stored = try #require(try await store.read { tx in try await tx.find(AcceleratorSpec.self, id: "a1", domainID: "d1") })
            #expect(stored.name == "renamed")
            #expect(stored.createdAt == "2026-01-01T00:00:00Z")
            #expect(stored.updatedAt == "2026-02-02T00:00:00Z")
            #expect(stored.status == .deleting)
            #expect(stored.revision == 5)
            #expect(stored.healthState == .healthy)
        }
    }

    @Test(arguments: Kind.available) func accountsAndKeys(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            let account = StoredAccount(caller: Caller(domainID: "d1", domainName: "team", userName: "team"), passwordHash: "h")
            try await store.write { tx in try await tx.insertAccount(account, accessKey: "AK1", sealedSecret: "sealed", createdAt: "t") }
            do {
                try await store.write { tx async throws in
                    let twin = StoredAccount(caller: Caller(domainID: "d2", domainName: "team", userName: "team"), passwordHash: "h")
                    try await tx.insertAccount(twin, accessKey: "AK2", sealedSecret: "s", createdAt: "t")
                }
                Issue.record("a second account named team was stored")
            } catch let error as GAError {
                #expect(error.code == "IAM.0001")
                #expect(error.httpStatus == 409)
            }
            try await store.read { tx async throws in
                #expect(try await tx.accountCount() == 1)
                #expect(try await tx.account(domainID: "d1") == account)
                #expect(try await tx.account(domainName: "team", userName: "team") == account)
                #expect(try await tx.account(domainName: "team", userName: "other") == nil)
                let key = try #require(try await tx.accessKey("AK1"))
                #expect(key.sealedSecret == "sealed")
                #expect(key.account == account)
                #expect(try await tx.accessKey("AK2") == nil)
            }
        }
    }

    @Test(arguments: Kind.available) func listenerPortsArePortsTimesAddressesPerAccount(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            let accelerator = Self.dualStackAccelerator("a1")
            try await store.write { [accelerator] tx in
                try await tx.insert(accelerator)
                try await tx.insert(Self.accelerator("a2", domain: "d2"))
                try await tx.insert(Self.listener("l1", parent: "a1", ports: 80...84))
                try await tx.insert(Self.listener("l2", parent: "a1", ports: 90...90))
                try await tx.insert(Self.listener("l3", domain: "d2", parent: "a2", ports: 80...99))
            }
            try await store.read { tx async throws in
                #expect(try await tx.listenerPorts(domainID: "d1", except: nil) == 12)
                #expect(try await tx.listenerPorts(domainID: "d1", except: "l1") == 2)
                #expect(try await tx.listenerPorts(domainID: "nobody", except: nil) == 0)
                // A listener of another account is not subtracted.
                #expect(try await tx.listenerPorts(domainID: "d1", except: "l3") == 12)
            }
            // The sums follow updates, removals and rollbacks (they are kept per account, not counted per query).
            var narrowed = Self.listener("l1", parent: "a1", ports: 80...80)
            narrowed.revision = 2
            try await store.write { [narrowed] tx in try await tx.update(narrowed) }
            #expect(try await store.read { tx in try await tx.listenerPorts(domainID: "d1", except: nil) } == 4)
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                try await store.write { tx async throws in
                    try await tx.insert(Self.listener("l4", parent: "a1", ports: 1...100))
                    try await tx.remove(.listener, id: "l2")
                    throw Refused()
                }
            }
            try await store.read { tx async throws in
                #expect(try await tx.listenerPorts(domainID: "d1", except: nil) == 4)
                #expect(try await tx.count(.listener, domainID: "d1") == 2)
            }
            try await store.write { tx in try await tx.remove(.listener, id: "l2") }
            try await store.read { tx async throws in
                #expect(try await tx.listenerPorts(domainID: "d1", except: nil) == 2)
                #expect(try await tx.count(.listener, domainID: "d1") == 1)
                #expect(try await tx.count(.accelerator, domainID: "d1") == 1)
                #expect(try await tx.count(.accelerator, domainID: "d2") == 1)
            }
            try await store.write { tx async throws in
                try await tx.remove(.listener, id: "l1")
                try await tx.remove(.accelerator, id: "a1")
            }
            try await store.read { tx async throws in
                #expect(try await tx.listenerPorts(domainID: "d1", except: nil) == 0)
                #expect(try await tx.count(.accelerator, domainID: "d1") == 0)
                #expect(try await tx.listenerPorts(domainID: "d2", except: nil) == 0)
            }
        }
    }

    /// Two replicas may settle the same removal at once: the account's usage drops once. On PostgreSQL the
    /// second delete waits for the first transaction, which holds on until both have started.
    @Test(arguments: Kind.available) func aResourceRemovedTwiceAtOnceCountsOnce(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            try await store.write { tx async throws in
                try await tx.insert(Self.dualStackAccelerator("a1"))
                try await tx.insert(Self.listener("l1", parent: "a1", ports: 80...84))
                try await tx.insert(Self.listener("l2", parent: "a1", ports: 90...90))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await store.write { tx async throws in
                            try await tx.remove(.listener, id: "l1")
                            try await Task.sleep(for: .milliseconds(200))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await store.read { tx async throws in
                #expect(try await tx.count(.listener, domainID: "d1") == 1)
                #expect(try await tx.listenerPorts(domainID: "d1", except: nil) == 2)
            }
        }
    }

    @Test(arguments: Kind.available) func popsAndTheirReports(kind: Kind) async throws {
        try await Self.withStore(kind) { store in
            let remote = StoredPoP(id: "sin-1", regionID: "ap-southeast-1", secretHash: "ab12", createdAt: "t")
            try await store.write { tx in try await tx.insertPoP(remote) }
            do {
                try await store.write { tx in try await tx.insertPoP(StoredPoP(id: "sin-1", regionID: "cn-north-4", secretHash: nil, createdAt: "t"))
                }
                Issue.record("a second PoP sin-1 was stored")
            } catch let error as GAError {
                #expect(error.code == "GA.9104")
            }
            let report = PoPReport(
                popID: "sin-1",
                regionID: "ap-southeast-1",
                appliedRevision: 7,
                errors: [.init(kind: .listener, id: "l1", message: "port 80 in use")],
                health: [.init(endpointID: "e1", state: .unhealthy)],
                refusal: "format 2"
            )
            // A report of a known PoP updates it and keeps its credential; one of an unknown PoP registers it.
            try await store.write { tx in
                try await tx.recordReport(report, popID: "sin-1", regionID: "ignored", seenAtMilliseconds: 1_000)
                try await tx.recordReport(report, popID: "embedded", regionID: "cn-north-4", seenAtMilliseconds: 2_000)
                try await tx.recordReport(report, popID: "embedded", regionID: "cn-north-4", seenAtMilliseconds: 3_000)
            }
            try await store.read { tx async throws in
                let pops = try await tx.pops()
                #expect(pops.map(\.id) == ["embedded", "sin-1"])
                let sin = try #require(try await tx.pop(id: "sin-1"))
                #expect(sin.secretHash == "ab12" && sin.regionID == "ap-southeast-1" && sin.lastSeenMilliseconds == 1_000)
                #expect(sin.report == report)
                #expect(pops[0].secretHash == nil && pops[0].regionID == "cn-north-4" && pops[0].lastSeenMilliseconds == 3_000)
                #expect(try await tx.pop(id: "nowhere") == nil)
            }
            // A remote PoP's report lands only on a PoP registered with the secret it authenticated with.
            try await store.write { tx async throws in
                #expect(try await tx.recordRemoteReport(report, popID: "sin-1", secretHash: "ab12", seenAtMilliseconds: 4_000))
                #expect(try await tx.recordRemoteReport(report, popID: "sin-1", secretHash: "ffff", seenAtMilliseconds: 5_000) == false)
                #expect(try await tx.recordRemoteReport(report, popID: "gone", secretHash: "ab12", seenAtMilliseconds: 5_000) == false)
                #expect(try await tx.pop(id: "sin-1")?.lastSeenMilliseconds == 4_000)
                #expect(try await tx.pop(id: "gone") == nil)
            }
            // A new secret replaces the old one; removing a PoP removes its report with it.
            try await store.write { tx async throws in
                #expect(try await tx.setPoPSecret(id: "sin-1", secretHash: "cd34"))
                #expect(try await tx.setPoPSecret(id: "nowhere", secretHash: "cd34") == false)
                #expect(try await tx.deletePoP(id: "embedded"))
                #expect(try await tx.deletePoP(id: "embedded") == false)
            }
            try await store.read { tx async throws in
                #expect(try await tx.pops().map(\.id) == ["sin-1"])
                let sin = try #require(try await tx.pop(id: "sin-1"))
                #expect(sin.secretHash == "cd34" && sin.report == report)
            }
        }
    }
}

/// The SQL store's own duties: its schema survives a reopen and migrations run once.
@Suite struct SQLiteStoreTests {
    @Test func reopeningKeepsDataAndRunsNoMigrationTwice() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("s.sqlite").path
        let first = SQLStore(driver: try await SQLiteDriver.open(path: path, logger: Logger(label: "test")))
        try await first.write { tx in
            _ = try await tx.nextRevision()
            try await tx.insert(StoreContractTests.accelerator("a1"))
        }
        try await first.close()
        let second = SQLStore(driver: try await SQLiteDriver.open(path: path, logger: Logger(label: "test")))
        let migrations = try await second.driver.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM schema_migrations").first()?.decode(column: "n", as: Int.self)
        }
        #expect(migrations == Migrations.versions.count)
        try await second.read { tx async throws in
            #expect(try await tx.currentRevision() == 1)
            #expect(try await tx.find(AcceleratorSpec.self, id: "a1")?.name == "acc-a1")
        }
        try await second.close()
    }

    /// A data directory written before listener ports were stored beside the spec gets them at its next start: ports
    /// × addresses, 10 × 2 here.
    @Test func theQuotaUnitsMigrationFillsInExistingRows() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("s.sqlite").path
        let first = SQLStore(driver: try await SQLiteDriver.open(path: path, logger: Logger(label: "test")))
        let accelerator = StoreContractTests.dualStackAccelerator("a1")
        var listener = StoreContractTests.listener("l1", parent: "a1", ports: 80...89)
        try await first.write { [accelerator, listener] tx in
            try await tx.insert(accelerator)
            try await tx.insert(listener)
        }
        #expect(try await first.read { tx in try await tx.listenerPorts(domainID: "d1", except: nil) } == 20)
        // Back to the schema of version 1.
        try await first.driver.write { db in
            for statement in [
                "DROP TABLE account_usage", "DROP INDEX resources_by_kind_status", "DROP TABLE pops",
                "DROP INDEX resources_by_revision", "ALTER TABLE resources DROP COLUMN quota_units",
                "DELETE FROM revisions WHERE name = 'removed'", "DELETE FROM schema_migrations WHERE version >= 2",
            ] {
                try await db.raw(SQLQueryString(statement)).run()
            }
        }
        try await first.close()
        let second = SQLStore(driver: try await SQLiteDriver.open(path: path, logger: Logger(label: "test")))
        try await second.read { tx async throws in
            #expect(try await tx.listenerPorts(domainID: "d1", except: nil) == 20)
            #expect(try await tx.listenerPorts(domainID: "d1", except: "l1") == 0)
        }
        listener.spec.portRanges = [PortRange(fromPort: 80, toPort: 80)]
        try await second.write { [listener] tx in try await tx.update(listener) }
        #expect(try await second.read { tx in try await tx.listenerPorts(domainID: "d1", except: nil) } == 2)
        try await second.close()
    }
}
