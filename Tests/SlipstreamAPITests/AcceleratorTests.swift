import Foundation
import HTTPTypes
import SlipstreamModel
import Testing

@testable import SlipstreamAPI
@testable import SlipstreamTestSupport

@Suite struct AcceleratorTests {
    @Test func createShowUpdateListDelete() async throws {
        try await TestServer().run { api in
            let created = try await api.call(
                .post,
                "/v1/accelerators",
                #"{"accelerator": {"name": "ga-demo", "description": "demo", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}], "tags": [{"key": "env", "value": "dev"}]}}"#
            )
            #expect(created.status == 201)
            #expect(created.headers[.requestID] != nil)
            #expect(created.json["request_id"] as? String == created.headers[.requestID])
            let accelerator = created.object("accelerator")
            let id = try #require(accelerator["id"] as? String)
            #expect(accelerator["status"] as? String == "PENDING")
            #expect(accelerator["name"] as? String == "ga-demo")
            #expect(accelerator["domain_id"] as? String == api.credentials.domainID)
            #expect(accelerator["flavor_id"] as? String == "default")
            #expect((accelerator["created_at"] as? String)?.hasSuffix("Z") == true)
            let ipSets = try #require(accelerator["ip_sets"] as? [[String: Any]])
            #expect(ipSets.count == 1)
            let address = try #require(ipSets[0]["ip_address"] as? String)
            #expect(address.hasPrefix("127.10."))
            #expect((accelerator["tags"] as? [[String: Any]])?.first?["key"] as? String == "env")
            #expect((accelerator["frozen_info"] as? [String: Any])?["status"] as? Int == 0)

            try await api.waitForStatus("/v1/accelerators/\(id)", "accelerator", "ACTIVE")

            // PUT changes only what it carries.
            let updated = try await api.call(.put, "/v1/accelerators/\(id)", #"{"accelerator": {"name": "ga-renamed"}}"#)
            #expect(updated.status == 200)
            #expect(updated.object("accelerator")["name"] as? String == "ga-renamed")
            #expect(updated.object("accelerator")["description"] as? String == "demo")
            #expect(updated.object("accelerator")["status"] as? String == "PENDING")

            let second = try await api.createAccelerator(name: "ga-2")
            let list = try await api.call(.get, "/v1/accelerators")
            #expect(list.status == 200)
            #expect(list.list("accelerators").map { $0["id"] as? String } == [id, second])
            #expect((list.json["page_info"] as? [String: Any])?["current_count"] as? Int == 2)
            #expect((list.json["page_info"] as? [String: Any])?["next_marker"] == nil)
            // The second accelerator got a different address.
            let addresses = Set(list.list("accelerators").compactMap { ($0["ip_sets"] as? [[String: Any]])?.first?["ip_address"] as? String })
            #expect(addresses.count == 2)

            let filtered = try await api.call(.get, "/v1/accelerators?name=ga-2")
            #expect(filtered.list("accelerators").map { $0["id"] as? String } == [second])

            let deleted = try await api.call(.delete, "/v1/accelerators/\(id)")
            #expect(deleted.status == 204)
            #expect(deleted.headers[.requestID] != nil)
            try await api.waitForGone("/v1/accelerators/\(id)", "accelerator")
            expectError(try await api.call(.get, "/v1/accelerators/\(id)"), 404, "GA.9002", mentioning: id)
        }
    }

    @Test func deleteIsBlockedByListeners() async throws {
        try await TestServer().run { api in
            let id = try await api.createAccelerator()
            let listener = try await api.createListener(acceleratorID: id)
            expectError(try await api.call(.delete, "/v1/accelerators/\(id)"), 409, "GA.9005", mentioning: "listener")
            #expect(try await api.call(.delete, "/v1/listeners/\(listener)").status == 204)
            try await api.waitForGone("/v1/listeners/\(listener)", "listener")
            #expect(try await api.call(.delete, "/v1/accelerators/\(id)").status == 204)
        }
    }

    @Test func quotaOfAccelerators() async throws {
        try await TestServer { $0.quotas.acceleratorsPerAccount = 2 }.run { api in
            _ = try await api.createAccelerator(name: "a")
            _ = try await api.createAccelerator(name: "b")
            let third = try await api.call(
                .post,
                "/v1/accelerators",
                #"{"accelerator": {"name": "c", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#
            )
            expectError(third, 400, "GA.9103")
            #expect(try await api.call(.get, "/v1/accelerators").list("accelerators").count == 2)
        }
    }

    @Test func poolExhaustionAndReuse() async throws {
        // A /30 has two usable addresses.
        try await TestServer { $0.pools["OUTOFCM/IPV4"] = [CIDR("127.99.0.0/30")!] }.run { api in
            let first = try await api.createAccelerator(name: "a")
            _ = try await api.createAccelerator(name: "b")
            let third = try await api.call(
                .post,
                "/v1/accelerators",
                #"{"accelerator": {"name": "c", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#
            )
            expectError(third, 500, "GA.9201")
            #expect(try await api.call(.get, "/v1/accelerators").list("accelerators").count == 2)
            // The CM pool is separate.
            _ = try await api.createAccelerator(name: "cm", area: "CM")
            // Deleting frees the address once the delete has settled.
            #expect(try await api.call(.delete, "/v1/accelerators/\(first)").status == 204)
            try await api.waitForGone("/v1/accelerators/\(first)", "accelerator")
            let again = try await api.create(
                "/v1/accelerators",
                "accelerator",
                #"{"accelerator": {"name": "d", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#
            )
            #expect((again["ip_sets"] as? [[String: Any]])?.first?["ip_address"] as? String == "127.99.0.1")
        }
    }

    @Test func ipv6WithoutAPoolIsExhausted() async throws {
        try await TestServer().run { api in
            let response = try await api.call(
                .post,
                "/v1/accelerators",
                #"{"accelerator": {"name": "v6", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV6", "area": "OUTOFCM"}]}}"#
            )
            expectError(response, 500, "GA.9201")
        }
    }
}
