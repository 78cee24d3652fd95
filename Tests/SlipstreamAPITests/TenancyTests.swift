import Foundation
import Testing

@testable import SlipstreamTestSupport

@Suite struct TenancyTests {
    @Test func otherAccountsSeeNothing() async throws {
        try await TestServer().run { api in
            let accelerator = try await api.createAccelerator()
            let listener = try await api.createListener(acceleratorID: accelerator)
            let group = try await api.createEndpointGroup(listenerID: listener)
            let endpoint = try await api.createEndpoint(groupID: group)
            let check =
                try await api.create(
                    "/v1/health-checks",
                    "health_check",
                    #"{"health_check": {"endpoint_group_id": "\#(group)", "protocol": "TCP", "port": 80, "interval": 5, "timeout": 3, "max_retries": 3, "enabled": true}}"#
                )["id"] as! String

            let other = try await api.createAccount("tenant-b")
            let b = Auth.signed(other)
            for (uri, key) in [
                ("/v1/accelerators/\(accelerator)", "accelerator"), ("/v1/listeners/\(listener)", "listener"),
                ("/v1/endpoint-groups/\(group)", "endpoint_group"), ("/v1/endpoint-groups/\(group)/endpoints/\(endpoint)", "endpoint"),
                ("/v1/health-checks/\(check)", "health_check"),
            ] {
                expectError(try await api.call(.get, uri, auth: b), 404, "GA.9002")
                expectError(try await api.call(.put, uri, #"{"\#(key)": {}}"#, auth: b), 404, "GA.9002")
                expectError(try await api.call(.delete, uri, auth: b), 404, "GA.9002")
            }
            for (uri, key) in [
                ("/v1/accelerators", "accelerators"), ("/v1/listeners", "listeners"), ("/v1/endpoint-groups", "endpoint_groups"),
                ("/v1/health-checks", "health_checks"),
            ] {
                let response = try await api.call(.get, uri, auth: b)
                #expect(response.status == 200)
                #expect(response.list(key).isEmpty, "\(uri) leaked \(response.text)")
            }
            expectError(try await api.call(.get, "/v1/endpoint-groups/\(group)/endpoints", auth: b), 404, "GA.9002")
            let foreignListener =
                #"{"listener": {"name": "l", "protocol": "TCP", "accelerator_id": "\#(accelerator)", "port_ranges": [{"from_port": 90, "to_port": 90}]}}"#
            expectError(try await api.call(.post, "/v1/listeners", foreignListener, auth: b), 404, "GA.9002")
            let foreignEndpoint = #"{"endpoint": {"resource_id": "x", "resource_type": "CUSTOM_IP", "ip_address": "127.0.0.9"}}"#
            expectError(try await api.call(.post, "/v1/endpoint-groups/\(group)/endpoints", foreignEndpoint, auth: b), 404, "GA.9002")

            // Everything of the owner is intact.
            #expect(try await api.call(.get, "/v1/accelerators/\(accelerator)").status == 200)
            #expect(try await api.call(.get, "/v1/endpoint-groups/\(group)/endpoints").list("endpoints").count == 1)
            // And B's own resources work.
            let own = try await api.create(
                "/v1/accelerators",
                "accelerator",
                #"{"accelerator": {"name": "b", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#,
                auth: b
            )
            #expect(own["domain_id"] as? String == other.domainID)
            #expect(try await api.call(.get, "/v1/accelerators").list("accelerators").count == 1)
        }
    }
}
