import Foundation
import Testing

@testable import SlipstreamTestSupport

@Suite struct EndpointGroupTests {
    @Test func groupsEndpointsAndHealthChecks() async throws {
        try await TestServer().run { api in
            let accelerator = try await api.createAccelerator()
            let listener = try await api.createListener(acceleratorID: accelerator)
            let group = try await api.create(
                "/v1/endpoint-groups",
                "endpoint_group",
                #"{"endpoint_group": {"name": "eg", "region_id": "cn-east-3", "listeners": [{"id": "\#(listener)"}]}}"#
            )
            let groupID = try #require(group["id"] as? String)
            #expect(group["traffic_dial_percentage"] as? Int == 100)
            #expect((group["listeners"] as? [[String: Any]])?.first?["id"] as? String == listener)
            #expect(group["region_id"] as? String == "cn-east-3")

            // One group per listener per region; other regions are fine; unknown regions are refused.
            let duplicate = #"{"endpoint_group": {"name": "eg2", "region_id": "cn-east-3", "listeners": [{"id": "\#(listener)"}]}}"#
            expectError(try await api.call(.post, "/v1/endpoint-groups", duplicate), 400, "GA.9104")
            let unknown = #"{"endpoint_group": {"name": "eg3", "region_id": "mars-1", "listeners": [{"id": "\#(listener)"}]}}"#
            expectError(try await api.call(.post, "/v1/endpoint-groups", unknown), 400, "GA.9105", mentioning: "mars-1")
            let remote = try await api.createEndpointGroup(listenerID: listener, region: "ap-southeast-1")
            #expect(try await api.call(.get, "/v1/endpoint-groups?listener_id=\(listener)").list("endpoint_groups").count == 2)

            let dial = try await api.call(.put, "/v1/endpoint-groups/\(remote)", #"{"endpoint_group": {"traffic_dial_percentage": 30}}"#)
            #expect(dial.object("endpoint_group")["traffic_dial_percentage"] as? Int == 30)
            #expect(dial.object("endpoint_group")["name"] as? String == "eg")
            expectError(
                try await api.call(.put, "/v1/endpoint-groups/\(remote)", #"{"endpoint_group": {"traffic_dial_percentage": 101}}"#),
                400,
                "GA.9001"
            )

            // Endpoints.
            let endpoint = try await api.create(
                "/v1/endpoint-groups/\(groupID)/endpoints",
                "endpoint",
                #"{"endpoint": {"resource_id": "backend-1", "resource_type": "CUSTOM_IP", "ip_address": "127.0.0.2"}}"#
            )
            let endpointID = try #require(endpoint["id"] as? String)
            #expect(endpoint["weight"] as? Int == 1)
            #expect(endpoint["health_state"] as? String == "NO_MONITOR")
            #expect(endpoint["endpoint_group_id"] as? String == groupID)
            let sameAddress = #"{"endpoint": {"resource_id": "backend-2", "resource_type": "CUSTOM_IP", "ip_address": "127.0.0.2"}}"#
            expectError(try await api.call(.post, "/v1/endpoint-groups/\(groupID)/endpoints", sameAddress), 400, "GA.9104")
            let sameResource = #"{"endpoint": {"resource_id": "backend-1", "resource_type": "CUSTOM_IP", "ip_address": "127.0.0.3"}}"#
            expectError(try await api.call(.post, "/v1/endpoint-groups/\(groupID)/endpoints", sameResource), 400, "GA.9104")
            let badAddress = #"{"endpoint": {"resource_id": "x", "resource_type": "CUSTOM_IP", "ip_address": "not-an-ip"}}"#
            expectError(
                try await api.call(.post, "/v1/endpoint-groups/\(groupID)/endpoints", badAddress),
                400,
                "GA.9001",
                mentioning: "endpoint.ip_address"
            )
            let domain = try await api.create(
                "/v1/endpoint-groups/\(groupID)/endpoints",
                "endpoint",
                #"{"endpoint": {"resource_id": "dns", "resource_type": "CUSTOM_DOMAIN_NAME", "ip_address": "backend.example.com", "weight": 0}}"#
            )
            #expect(domain["weight"] as? Int == 0)

            let weighted = try await api.call(.put, "/v1/endpoint-groups/\(groupID)/endpoints/\(endpointID)", #"{"endpoint": {"weight": 7}}"#)
            #expect(weighted.object("endpoint")["weight"] as? Int == 7)
            #expect(weighted.object("endpoint")["ip_address"] as? String == "127.0.0.2")
            // An endpoint is only found through its own group.
            expectError(try await api.call(.get, "/v1/endpoint-groups/\(remote)/endpoints/\(endpointID)"), 404, "GA.9002")
            let listed = try await api.call(.get, "/v1/endpoint-groups/\(groupID)/endpoints?limit=1")
            #expect(listed.list("endpoints").map { $0["id"] as? String } == [endpointID])
            #expect((listed.json["page_info"] as? [String: Any])?["next_marker"] as? String == endpointID)

            // Health check: endpoints wait for a first verdict; one check per group; timeout within interval.
            let checkBody =
                #"{"health_check": {"endpoint_group_id": "\#(groupID)", "protocol": "TCP", "port": 80, "interval": 5, "timeout": 3, "max_retries": 3, "enabled": true}}"#
            let check = try await api.create("/v1/health-checks", "health_check", checkBody)
            let checkID = try #require(check["id"] as? String)
            #expect(check["endpoint_group_id"] as? String == groupID)
            #expect(check["enabled"] as? Bool == true)
            let shown = try await api.call(.get, "/v1/endpoint-groups/\(groupID)/endpoints/\(endpointID)")
            #expect(shown.object("endpoint")["health_state"] as? String == "INITIAL")
            expectError(try await api.call(.post, "/v1/health-checks", checkBody), 400, "GA.9104")
            let slow =
                #"{"health_check": {"endpoint_group_id": "\#(remote)", "protocol": "TCP", "port": 80, "interval": 5, "timeout": 6, "max_retries": 3, "enabled": true}}"#
            expectError(try await api.call(.post, "/v1/health-checks", slow), 400, "GA.9001", mentioning: "timeout")
            let missingEnabled =
                #"{"health_check": {"endpoint_group_id": "\#(remote)", "protocol": "TCP", "port": 80, "interval": 5, "timeout": 3, "max_retries": 3}}"#
            expectError(try await api.call(.post, "/v1/health-checks", missingEnabled), 400, "GA.9001", mentioning: "health_check.enabled")

            let disabled = try await api.call(.put, "/v1/health-checks/\(checkID)", #"{"health_check": {"enabled": false}}"#)
            #expect(disabled.object("health_check")["enabled"] as? Bool == false)
            #expect(disabled.object("health_check")["port"] as? Int == 80)
            let unmonitored = try await api.call(.get, "/v1/endpoint-groups/\(groupID)/endpoints/\(endpointID)")
            #expect(unmonitored.object("endpoint")["health_state"] as? String == "NO_MONITOR")
            #expect(try await api.call(.get, "/v1/health-checks?endpoint_group_id=\(groupID)").list("health_checks").count == 1)

            // Deletion order: group blocked by endpoints and health check; listener blocked by groups.
            expectError(try await api.call(.delete, "/v1/listeners/\(listener)"), 409, "GA.9005")
            expectError(try await api.call(.delete, "/v1/endpoint-groups/\(groupID)"), 409, "GA.9005", mentioning: "endpoint")
            for id in [endpointID, domain["id"] as! String] {
                #expect(try await api.call(.delete, "/v1/endpoint-groups/\(groupID)/endpoints/\(id)").status == 204)
            }
            // Both deletes may settle in different rounds: wait for both.
            for id in [endpointID, domain["id"] as! String] {
                try await api.waitForGone("/v1/endpoint-groups/\(groupID)/endpoints/\(id)", "endpoint")
            }
            expectError(try await api.call(.delete, "/v1/endpoint-groups/\(groupID)"), 409, "GA.9005", mentioning: "health_check")
            #expect(try await api.call(.delete, "/v1/health-checks/\(checkID)").status == 204)
            try await api.waitForGone("/v1/health-checks/\(checkID)", "health_check")
            #expect(try await api.call(.delete, "/v1/endpoint-groups/\(groupID)").status == 204)
            try await api.waitForGone("/v1/endpoint-groups/\(groupID)", "endpoint_group")
        }
    }

    @Test func endpointQuotaAndUnknownGroup() async throws {
        try await TestServer { $0.quotas.endpointsPerGroup = 2 }.run { api in
            let accelerator = try await api.createAccelerator()
            let listener = try await api.createListener(acceleratorID: accelerator)
            let group = try await api.createEndpointGroup(listenerID: listener)
            _ = try await api.createEndpoint(groupID: group, ip: "127.0.0.2")
            _ = try await api.createEndpoint(groupID: group, ip: "127.0.0.3")
            let third = #"{"endpoint": {"resource_id": "r3", "resource_type": "CUSTOM_IP", "ip_address": "127.0.0.4"}}"#
            expectError(try await api.call(.post, "/v1/endpoint-groups/\(group)/endpoints", third), 400, "GA.9103")
            let missing = "01a226d8-0000-7000-8000-000000000000"
            expectError(try await api.call(.post, "/v1/endpoint-groups/\(missing)/endpoints", third), 404, "GA.9002")
            expectError(try await api.call(.get, "/v1/endpoint-groups/\(missing)/endpoints"), 404, "GA.9002")
            let orphan = #"{"endpoint_group": {"name": "eg", "region_id": "cn-east-3", "listeners": [{"id": "\#(missing)"}]}}"#
            expectError(try await api.call(.post, "/v1/endpoint-groups", orphan), 404, "GA.9002")
        }
    }
}
