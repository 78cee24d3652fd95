import Foundation
import Testing

@testable import SlipstreamTestSupport

@Suite struct ListenerTests {
    @Test func createDefaultsUpdateAndFilters() async throws {
        try await TestServer().run { api in
            let accelerator = try await api.createAccelerator()
            let listener = try await api.create(
                "/v1/listeners",
                "listener",
                #"{"listener": {"name": "web", "protocol": "TCP", "accelerator_id": "\#(accelerator)", "port_ranges": [{"from_port": 80, "to_port": 81}, {"from_port": 443, "to_port": 443}]}}"#
            )
            let id = try #require(listener["id"] as? String)
            #expect(listener["client_affinity"] as? String == "NONE")
            #expect(listener["status"] as? String == "PENDING")
            #expect(listener["accelerator_id"] as? String == accelerator)
            #expect((listener["port_ranges"] as? [[String: Any]])?.count == 2)

            let updated = try await api.call(.put, "/v1/listeners/\(id)", #"{"listener": {"client_affinity": "SOURCE_IP"}}"#)
            #expect(updated.status == 200)
            #expect(updated.object("listener")["client_affinity"] as? String == "SOURCE_IP")
            #expect(updated.object("listener")["name"] as? String == "web")
            #expect((updated.object("listener")["port_ranges"] as? [[String: Any]])?.count == 2)

            let other = try await api.createAccelerator(name: "other")
            let otherListener = try await api.createListener(acceleratorID: other, from: 80, to: 80)
            let byAccelerator = try await api.call(.get, "/v1/listeners?accelerator_id=\(accelerator)")
            #expect(byAccelerator.list("listeners").map { $0["id"] as? String } == [id])
            try await api.waitForStatus("/v1/listeners/\(otherListener)", "listener", "ACTIVE")
            let active = try await api.call(.get, "/v1/listeners?status=ACTIVE")
            #expect(active.list("listeners").contains { $0["id"] as? String == otherListener })
            expectError(try await api.call(.get, "/v1/listeners?status=RUNNING"), 400, "GA.9001", mentioning: "status")
        }
    }

    @Test func portRangeRules() async throws {
        try await TestServer().run { api in
            let accelerator = try await api.createAccelerator()
            let existing = try await api.createListener(acceleratorID: accelerator, from: 1000, to: 2000)
            func listener(_ ranges: String, _ proto: String = "TCP") -> String {
                #"{"listener": {"name": "l", "protocol": "\#(proto)", "accelerator_id": "\#(accelerator)", "port_ranges": \#(ranges)}}"#
            }
            expectError(try await api.call(.post, "/v1/listeners", listener(#"[{"from_port": 1500, "to_port": 2500}]"#)), 400, "GA.9101")
            expectError(
                try await api.call(.post, "/v1/listeners", listener(#"[{"from_port": 10, "to_port": 20}, {"from_port": 15, "to_port": 30}]"#)),
                400,
                "GA.9101"
            )
            expectError(
                try await api.call(.post, "/v1/listeners", listener(#"[{"from_port": 20, "to_port": 22}]"#)),
                400,
                "GA.9101",
                mentioning: "22"
            )
            expectError(
                try await api.call(.post, "/v1/listeners", listener(#"[{"from_port": 90, "to_port": 80}]"#)),
                400,
                "GA.9001",
                mentioning: "port_ranges[0].to_port"
            )
            expectError(
                try await api.call(.post, "/v1/listeners", listener(#"[{"from_port": 0, "to_port": 80}]"#)),
                400,
                "GA.9001",
                mentioning: "listener.port_ranges[0].from_port"
            )
            expectError(try await api.call(.post, "/v1/listeners", listener("[]")), 400, "GA.9001", mentioning: "listener.port_ranges")
            let eleven = (1...11).map { #"{"from_port": \#(3000 + $0), "to_port": \#(3000 + $0)}"# }.joined(separator: ",")
            expectError(try await api.call(.post, "/v1/listeners", listener("[\(eleven)]")), 400, "GA.9001", mentioning: "at most 10")
            // An update may not overlap a sibling either, but may keep its own ranges.
            let second = try await api.createListener(acceleratorID: accelerator, from: 3000, to: 3000)
            expectError(
                try await api.call(.put, "/v1/listeners/\(second)", #"{"listener": {"port_ranges": [{"from_port": 1999, "to_port": 3000}]}}"#),
                400,
                "GA.9101"
            )
            #expect(
                try await api.call(.put, "/v1/listeners/\(existing)", #"{"listener": {"port_ranges": [{"from_port": 1000, "to_port": 2001}]}}"#)
                    .status == 200
            )
            #expect(try await api.call(.get, "/v1/listeners?accelerator_id=\(accelerator)").list("listeners").count == 2)
        }
    }

    @Test func unknownAcceleratorAndQuota() async throws {
        try await TestServer { $0.quotas.listenersPerAccelerator = 1 }.run { api in
            let missing = "01a226d8-0000-7000-8000-000000000000"
            let body =
                #"{"listener": {"name": "l", "protocol": "UDP", "accelerator_id": "\#(missing)", "port_ranges": [{"from_port": 53, "to_port": 53}]}}"#
            expectError(try await api.call(.post, "/v1/listeners", body), 404, "GA.9002", mentioning: missing)
            let accelerator = try await api.createAccelerator()
            _ = try await api.createListener(acceleratorID: accelerator, from: 53, to: 53, protocol: "UDP")
            let second =
                #"{"listener": {"name": "l2", "protocol": "UDP", "accelerator_id": "\#(accelerator)", "port_ranges": [{"from_port": 54, "to_port": 54}]}}"#
            expectError(try await api.call(.post, "/v1/listeners", second), 400, "GA.9103")
        }
    }

    /// Listener ports are budgeted per account: ports × the accelerator's addresses, checked on create and on
    /// update, shown with their use in the quotas API.
    @Test func listenerPortQuota() async throws {
        try await TestServer { $0.quotas.listenerPortsPerAccount = 100 }.run { api in
            let accelerator = try await api.createAccelerator()
            let first = try await api.createListener(acceleratorID: accelerator, from: 1000, to: 1049)
            expectError(
                try await api.call(
                    .post,
                    "/v1/listeners",
                    #"{"listener": {"name": "big", "protocol": "UDP", "accelerator_id": "\#(accelerator)", "port_ranges": [{"from_port": 2000, "to_port": 2060}]}}"#
                ),
                400,
                "GA.9103",
                mentioning: "listener_port_per_tenant (100): this listener needs 61 port(s)"
            )
            _ = try await api.createListener(acceleratorID: accelerator, from: 2000, to: 2049)
            // Growing a listener counts its new size against what the others hold.
            expectError(
                try await api.call(.put, "/v1/listeners/\(first)", #"{"listener": {"port_ranges": [{"from_port": 1000, "to_port": 1050}]}}"#),
                400,
                "GA.9103",
                mentioning: "50 in use"
            )
            #expect(
                try await api.call(.put, "/v1/listeners/\(first)", #"{"listener": {"port_ranges": [{"from_port": 1000, "to_port": 1029}]}}"#)
                    .status == 200
            )
            let quotas = try await api.call(.get, "/v1/\(api.credentials.domainID)/ga/quotas")
            let resources = (quotas.json["quotas"] as? [String: Any])?["resources"] as? [[String: Any]] ?? []
            let ports = resources.first { $0["type"] as? String == "listener_port_per_tenant" }
            #expect(ports?["quota"] as? Int == 100)
            #expect(ports?["used"] as? Int == 80)
            // The listener a fuzzer made: 30,000 ports under the default quota.
            try await TestServer().run { api in
                let accelerator = try await api.createAccelerator()
                expectError(
                    try await api.call(
                        .post,
                        "/v1/listeners",
                        #"{"listener": {"name": "all", "protocol": "TCP", "accelerator_id": "\#(accelerator)", "port_ranges": [{"from_port": 30000, "to_port": 59999}]}}"#
                    ),
                    400,
                    "GA.9103",
                    mentioning: "listener_port_per_tenant (2000): this listener needs 30000 port(s)"
                )
            }
        }
    }
}
