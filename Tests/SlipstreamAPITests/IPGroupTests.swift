import Foundation
import Testing

@testable import SlipstreamTestSupport

@Suite struct IPGroupTests {
    @Test func lifecycleEntriesAndBindings() async throws {
        try await TestServer().run { api in
            let created = try await api.create(
                "/v1/ip-groups",
                "ip_group",
                #"{"ip_group": {"name": "office", "ip_list": [{"cidr": "192.0.2.0/24", "description": "hq"}, {"cidr": "2001:db8::1"}]}}"#
            )
            let id = try #require(created["id"] as? String)
            #expect(created["status"] as? String == "PENDING")
            let entries = try #require(created["ip_list"] as? [[String: Any]])
            #expect(entries.map { $0["cidr"] as? String } == ["192.0.2.0/24", "2001:db8::1/128"])
            #expect(entries[0]["description"] as? String == "hq")
            try await api.waitForStatus("/v1/ip-groups/\(id)", "ip_group", "ACTIVE")

            // Entries: add, duplicate, bad, remove.
            #expect(try await api.call(.post, "/v1/ip-groups/\(id)/add-ips", #"{"ip_list": [{"cidr": "198.51.100.0/24"}]}"#).status == 200)
            expectError(try await api.call(.post, "/v1/ip-groups/\(id)/add-ips", #"{"ip_list": [{"cidr": "198.51.100.0/24"}]}"#), 400, "GA.9110")
            expectError(
                try await api.call(.post, "/v1/ip-groups/\(id)/add-ips", #"{"ip_list": [{"cidr": "10.0.0.0/8"}, {"cidr": "10.0.0.0/8"}]}"#),
                400,
                "GA.9110"
            )
            expectError(
                try await api.call(.post, "/v1/ip-groups/\(id)/add-ips", #"{"ip_list": [{"cidr": "300.0.0.0/8"}]}"#),
                400,
                "GA.9001",
                mentioning: "ip_list[0].cidr"
            )
            let tooMany = (0..<21).map { #"{"cidr": "10.0.\#($0).0/24"}"# }.joined(separator: ",")
            expectError(
                try await api.call(.post, "/v1/ip-groups/\(id)/add-ips", #"{"ip_list": [\#(tooMany)]}"#),
                400,
                "GA.9001",
                mentioning: "ip_list"
            )
            #expect(try await api.call(.post, "/v1/ip-groups/\(id)/remove-ips", #"{"ip_list": ["192.0.2.0/24"]}"#).status == 200)
            expectError(try await api.call(.post, "/v1/ip-groups/\(id)/remove-ips", #"{"ip_list": ["192.0.2.0/24"]}"#), 400, "GA.9001")
            let shown = try await api.call(.get, "/v1/ip-groups/\(id)").object("ip_group")
            #expect((shown["ip_list"] as? [[String: Any]])?.compactMap { $0["cidr"] as? String } == ["2001:db8::1/128", "198.51.100.0/24"])

            // Bindings.
            let accelerator = try await api.createAccelerator()
            let listener = try await api.createListener(acceleratorID: accelerator)
            let other = try await api.create("/v1/ip-groups", "ip_group", #"{"ip_group": {"name": "other"}}"#)["id"] as! String
            #expect(
                try await api.call(.post, "/v1/ip-groups/\(id)/associate-listener", #"{"listener_id": "\#(listener)", "type": "WHITE"}"#).status
                    == 200
            )
            expectError(
                try await api.call(.post, "/v1/ip-groups/\(other)/associate-listener", #"{"listener_id": "\#(listener)", "type": "BLACK"}"#),
                400,
                "GA.9104"
            )
            expectError(
                try await api.call(.post, "/v1/ip-groups/\(other)/associate-listener", #"{"listener_id": "\#(listener)", "type": "GREY"}"#),
                400,
                "GA.9001",
                mentioning: "type"
            )
            expectError(
                try await api.call(.post, "/v1/ip-groups/\(other)/associate-listener", #"{"listener_id": "missing", "type": "BLACK"}"#),
                404,
                "GA.9002"
            )
            let filtered = try await api.call(.get, "/v1/ip-groups?listener_id=\(listener)")
            #expect(filtered.list("ip_groups").map { $0["id"] as? String } == [id])
            let binding = (filtered.list("ip_groups").first?["associated_listeners"] as? [[String: Any]])?.first
            #expect(binding?["listener_id"] as? String == listener)
            #expect(binding?["type"] as? String == "WHITE")
            #expect(try await api.call(.get, "/v1/ip-groups").list("ip_groups").count == 2)

            // A bound group and a guarded listener cannot be deleted.
            expectError(try await api.call(.delete, "/v1/ip-groups/\(id)"), 409, "GA.9005")
            expectError(try await api.call(.delete, "/v1/listeners/\(listener)"), 409, "GA.9005", mentioning: "ip_group")
            expectError(
                try await api.call(.post, "/v1/ip-groups/\(other)/disassociate-listener", #"{"listener_id": "\#(listener)"}"#),
                400,
                "GA.9001"
            )
            #expect(try await api.call(.post, "/v1/ip-groups/\(id)/disassociate-listener", #"{"listener_id": "\#(listener)"}"#).status == 200)
            #expect(
                try await api.call(.put, "/v1/ip-groups/\(id)", #"{"ip_group": {"description": "renamed"}}"#).object("ip_group")["name"] as? String
                    == "office"
            )
            #expect(try await api.call(.delete, "/v1/ip-groups/\(id)").status == 204)
            try await api.waitForGone("/v1/ip-groups/\(id)", "ip_group")
        }
    }

    @Test func quotaAndTenancy() async throws {
        try await TestServer { $0.quotas.ipGroupsPerAccount = 1 }.run { api in
            let id = try await api.create("/v1/ip-groups", "ip_group", #"{"ip_group": {"name": "one"}}"#)["id"] as! String
            expectError(try await api.call(.post, "/v1/ip-groups", #"{"ip_group": {"name": "two"}}"#), 400, "GA.9103")
            let b = Auth.signed(try await api.createAccount("tenant-b"))
            expectError(try await api.call(.get, "/v1/ip-groups/\(id)", auth: b), 404, "GA.9002")
            expectError(try await api.call(.post, "/v1/ip-groups/\(id)/add-ips", #"{"ip_list": [{"cidr": "10.0.0.0/8"}]}"#, auth: b), 404, "GA.9002")
            #expect(try await api.call(.get, "/v1/ip-groups", auth: b).list("ip_groups").isEmpty)
        }
    }
}
