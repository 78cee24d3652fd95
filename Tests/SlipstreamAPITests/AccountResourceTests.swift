import Foundation
import SlipstreamAPI
import SlipstreamControlPlane
import SlipstreamModel
import Testing

@testable import SlipstreamTestSupport

@Suite struct AccountResourceTests {
    @Test func quotasShowLimitsAndUse() async throws {
        try await TestServer { $0.quotas.acceleratorsPerAccount = 3 }.run { api in
            let accelerator = try await api.createAccelerator()
            _ = try await api.createAccelerator(name: "two")
            _ = try await api.createListener(acceleratorID: accelerator, from: 80, to: 80)
            _ = try await api.createListener(acceleratorID: accelerator, from: 81, to: 81)
            let response = try await api.call(.get, "/v1/\(api.credentials.domainID)/ga/quotas")
            #expect(response.status == 200)
            let resources = try #require((response.json["quotas"] as? [String: Any])?["resources"] as? [[String: Any]])
            let byType = Dictionary(uniqueKeysWithValues: resources.map { ($0["type"] as! String, $0) })
            #expect(byType["accelerator_per_tenant"]?["quota"] as? Int == 3)
            #expect(byType["accelerator_per_tenant"]?["used"] as? Int == 2)
            #expect(byType["listener_per_accelerator"]?["quota"] as? Int == 10)
            #expect(byType["listener_per_accelerator"]?["used"] as? Int == 2)
            #expect(byType["ip_group_per_tenant"]?["used"] as? Int == 0)
            // The limit shown is the one the write path enforces.
            _ = try await api.createAccelerator(name: "three")
            expectError(
                try await api.call(
                    .post,
                    "/v1/accelerators",
                    #"{"accelerator": {"name": "four", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#
                ),
                400,
                "GA.9103",
                mentioning: "accelerator_per_tenant"
            )

            let other = try await api.createAccount("tenant-b")
            expectError(try await api.call(.get, "/v1/\(other.domainID)/ga/quotas"), 404, "GA.9002")
            let own = try await api.call(.get, "/v1/\(other.domainID)/ga/quotas", auth: .signed(other))
            let theirs = (own.json["quotas"] as? [String: Any])?["resources"] as? [[String: Any]]
            #expect(theirs?.first { $0["type"] as? String == "accelerator_per_tenant" }?["used"] as? Int == 0)
        }
    }

    @Test func popsAndByoipPools() async throws {
        try await TestServer {
            $0.dataPlaneEnabled = true
            $0.popRegion = "cn-east-3"
            $0.pools["OUTOFCM/IPV4"] = [CIDR("127.11.30.0/24")!]
            $0.byoipPools = [
                BYOIPPool(cidr: CIDR("203.0.113.0/24")!, area: .outsideChineseMainland),
                BYOIPPool(cidr: CIDR("2001:db8::/48")!, area: .chineseMainland),
            ]
        }.run { api in
            // The embedded PoP is listed from its first report on, and live.
            #expect(try await eventually { try await !api.call(.get, "/v1/pops").list("pops").isEmpty })
            let pops = try await api.call(.get, "/v1/pops")
            #expect(pops.status == 200)
            let pop = try #require(pops.list("pops").first)
            #expect(pop["id"] as? String == "embedded")
            #expect(pop["status"] as? String == "ACTIVE")
            #expect(pop["applied_revision"] as? Int != nil)
            #expect(pop["region_id"] as? String == "cn-east-3")
            #expect((pop["addresses"] as? [String])?.contains("127.11.30.0/24") == true)
            #expect((pops.json["page_info"] as? [String: Any])?["current_count"] as? Int == 1)

            let pools = try await api.call(.get, "/v1/byoip-pools")
            let listed = pools.list("byoip_pools")
            #expect(Set(listed.compactMap { $0["cidr"] as? String }) == ["203.0.113.0/24", "2001:db8::/48"])
            #expect(listed.first { $0["cidr"] as? String == "2001:db8::/48" }?["ip_type"] as? String == "IPV6")
            #expect(listed.allSatisfy { $0["domain_id"] as? String == api.credentials.domainID })
            let first = try await api.call(.get, "/v1/byoip-pools?limit=1")
            let marker = try #require((first.json["page_info"] as? [String: Any])?["next_marker"] as? String)
            let second = try await api.call(.get, "/v1/byoip-pools?limit=1&marker=\(marker)")
            #expect(second.list("byoip_pools").count == 1)
            #expect(second.object("page_info")["current_count"] as? Int == 1)
            #expect(second.object("page_info")["next_marker"] == nil)
            expectError(try await api.call(.get, "/v1/pops", auth: .anonymous), 401, "APIGW.0301")
        }
    }
}
