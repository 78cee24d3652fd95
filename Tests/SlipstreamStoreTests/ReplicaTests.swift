import Foundation
import Logging
import SlipstreamControlPlane
import SlipstreamModel
import Testing

@testable import SlipstreamStore
@testable import SlipstreamTestSupport

/// Several control-plane replicas on one PostgreSQL database, each with its own connection pool, as separate
/// `slipstream serve` processes run them: every read sees every committed write of any replica, revisions stay one
/// per write across replicas, and no address is handed out twice however the writes interleave.
@Suite(.enabled(if: TestPostgres.url != nil, "needs SLIPSTREAM_TEST_DATABASE_URL"))
struct ReplicaTests {
    static let settings = ControlPlaneSettings(
        pools: ["OUTOFCM/IPV4": [CIDR("127.10.0.0/26")!]],
        regions: [RegionInfo(regionID: "ap-southeast-1", area: .outsideChineseMainland)],
        quotas: {
            var quotas = Quotas()
            quotas.acceleratorsPerAccount = 100
            return quotas
        }()
    )

    /// Two replicas of one fresh database.
    static func withReplicas(_ body: (ControlPlane, ControlPlane) async throws -> Void) async throws {
        try await TestPostgres.withDatabase { url in
            let first = SQLStore(driver: try await PostgresDriver.open(url: url, logger: Logger(label: "replica-1")))
            let second = SQLStore(driver: try await PostgresDriver.open(url: url, logger: Logger(label: "replica-2")))
            do {
                try await body(ControlPlane(store: first, settings: Self.settings), ControlPlane(store: second, settings: Self.settings))
            } catch {
                try? await first.close()
                try? await second.close()
                throw error
            }
            try await first.close()
            try await second.close()
        }
    }

    static func options(_ name: String) throws -> AcceleratorOptions.Create {
        let json = #"{"name": "\#(name)", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}], "enterprise_project_id": "0"}"#
        return try JSONDecoder().decode(AcceleratorOptions.Create.self, from: Data(json.utf8))
    }

    @Test func aWriteOnOneReplicaIsReadOnTheOther() async throws {
        try await Self.withReplicas { first, second in
            let created = try await first.createAccelerator(domainID: "d1", try Self.options("on-first"))
            let seen = try await second.accelerator(domainID: "d1", id: created.id)
            #expect(seen.name == "on-first")
            #expect(seen.spec.ipSets == created.spec.ipSets)
            try await second.deleteAccelerator(domainID: "d1", id: created.id)
            #expect(try await first.accelerator(domainID: "d1", id: created.id).status == .deleting)
        }
    }

    @Test func concurrentWritesOnTwoReplicasGetDistinctRevisionsAndAddresses() async throws {
        try await Self.withReplicas { first, second in
            let perReplica = 20
            let created = try await withThrowingTaskGroup(of: Accelerator.self) { group in
                for index in 0..<perReplica {
                    group.addTask { try await first.createAccelerator(domainID: "d1", try Self.options("a\(index)")) }
                    group.addTask { try await second.createAccelerator(domainID: "d1", try Self.options("b\(index)")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(created.count == 2 * perReplica)
            // One revision per committed write, across both replicas: 1…40 with none twice.
            #expect(created.map(\.revision).sorted() == (1...Int64(2 * perReplica)).map { $0 })
            let addresses = created.flatMap { $0.spec.ipSets.map(\.ipAddress) }
            #expect(Set(addresses).count == addresses.count)
            #expect(try await second.currentRevision() == Int64(2 * perReplica))
        }
    }

    @Test func anAccountMadeOnOneReplicaSignsInOnTheOther() async throws {
        try await TestPostgres.withDatabase { url in
            let key = MasterKey.generate()
            let first = SQLStore(driver: try await PostgresDriver.open(url: url, logger: Logger(label: "replica-1")))
            let second = SQLStore(driver: try await PostgresDriver.open(url: url, logger: Logger(label: "replica-2")))
            let credentials = try await AccountStore(store: first, masterKey: try MasterKey(bytes: key)).createAccount(name: "team")
            let other = AccountStore(store: second, masterKey: try MasterKey(bytes: key))
            #expect(
                try await other.authenticate(domainName: "team", userName: "team", password: credentials.password)?.domainID == credentials.domainID
            )
            #expect(try await other.secret(forAccessKey: credentials.accessKey)?.secret == credentials.secretKey)
            try await first.close()
            try await second.close()
        }
    }
}
