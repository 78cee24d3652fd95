import Foundation
import HTTPTypes
import Testing

@testable import SlipstreamTestSupport

@Suite struct ValidationTests {
    static let validAccelerator = #"{"name": "ga", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}"#

    /// Bodies that break one rule of `CreateAcceleratorOption`, and the field the error must name.
    static let badAccelerators: [(body: String, field: String)] = [
        (#"{"accelerator": {"enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#, "accelerator.name"),
        (#"{"accelerator": {"name": "", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#, "accelerator.name"),
        (
            #"{"accelerator": {"name": "has space", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#,
            "accelerator.name"
        ),
        (
            #"{"accelerator": {"name": "\#(String(repeating: "a", count: 65))", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#,
            "accelerator.name"
        ),
        (#"{"accelerator": {"name": 7, "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#, "accelerator.name"),
        (
            #"{"accelerator": {"name": "ga", "description": "<b>", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#,
            "accelerator.description"
        ),
        (
            #"{"accelerator": {"name": "ga", "description": "\#(String(repeating: "d", count: 256))", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#,
            "accelerator.description"
        ),
        (#"{"accelerator": {"name": "ga", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#, "accelerator.enterprise_project_id"),
        (#"{"accelerator": {"name": "ga", "enterprise_project_id": "0"}}"#, "accelerator.ip_sets"),
        (#"{"accelerator": {"name": "ga", "enterprise_project_id": "0", "ip_sets": []}}"#, "accelerator.ip_sets"),
        (
            #"{"accelerator": {"name": "ga", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV5", "area": "OUTOFCM"}]}}"#,
            "accelerator.ip_sets[0].ip_type"
        ),
        (
            #"{"accelerator": {"name": "ga", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "EUROPE"}]}}"#,
            "accelerator.ip_sets[0].area"
        ),
        (#"{"accelerator": {"name": "ga", "enterprise_project_id": "0", "ip_sets": {"ip_type": "IPV4"}}}"#, "accelerator.ip_sets"),
        (
            #"{"accelerator": {"name": "ga", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}], "tags": [{"key": "k<", "value": "v"}]}}"#,
            "accelerator.tags[0].key"
        ),
        (#"{"accelerator": "ga"}"#, "accelerator"),
        (#"{}"#, "accelerator"),
    ]

    @Test(arguments: badAccelerators)
    func invalidAcceleratorBodies(_ bad: (body: String, field: String)) async throws {
        try await TestServer().run { api in
            let response = try await api.call(.post, "/v1/accelerators", bad.body)
            expectError(response, 400, "GA.9001", mentioning: bad.field)
            // Nothing was written.
            #expect(try await api.call(.get, "/v1/accelerators").list("accelerators").isEmpty)
        }
    }

    /// Bodies with several faults, and the field the error must name: the first fault in the order `models.json` lists
    /// the fields in (the order the hand-written checks used before validation was built from the document).
    static let severalFaults: [(path: String, body: String, field: String)] = [
        (
            "/v1/listeners",
            #"{"listener": {"name": "web", "description": "<b>", "protocol": "TCP", "port_ranges": [{"from_port": 80, "to_port": 80}]}}"#,
            "listener.description"
        ),
        (
            "/v1/accelerators", #"{"accelerator": {"name": "ok", "description": "<x>", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#,
            "accelerator.description"
        ),
        (
            "/v1/endpoint-groups", #"{"endpoint_group": {"name": "e", "traffic_dial_percentage": 101, "region_id": "r"}}"#,
            "endpoint_group.traffic_dial_percentage"
        ),
        ("/v1/health-checks", #"{"health_check": {"endpoint_group_id": "g", "port": 0, "enabled": "yes"}}"#, "health_check.protocol"),
    ]

    @Test(arguments: severalFaults) func theFirstFaultInTheModelsOrderIsNamed(path: String, body: String, field: String) async throws {
        try await TestServer().run { api in
            expectError(try await api.call(.post, path, body), 400, "GA.9001", mentioning: "Invalid \(field):")
        }
    }

    @Test func tagRules() async throws {
        try await TestServer().run { api in
            func body(_ tags: String) -> String {
                #"{"accelerator": {"name": "ga", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}], "tags": \#(tags)}}"#
            }
            expectError(
                try await api.call(.post, "/v1/accelerators", body(#"[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]"#)),
                400,
                "GA.9107"
            )
            expectError(try await api.call(.post, "/v1/accelerators", body(#"[{"key": "", "value": "1"}]"#)), 400, "GA.9109")
            #expect(try await api.call(.get, "/v1/accelerators").list("accelerators").isEmpty)
        }
    }

    @Test func malformedAndOversizedBodies() async throws {
        try await TestServer { $0.maxBodyBytes = 2048 }.run { api in
            expectError(try await api.call(.post, "/v1/accelerators", #"{"accelerator": "#), 400, "GA.9001", mentioning: "malformed JSON")
            expectError(try await api.call(.post, "/v1/accelerators", "[1, 2]"), 400, "GA.9001", mentioning: "JSON object")
            expectError(try await api.call(.post, "/v1/accelerators", ""), 400, "GA.9001", mentioning: "body")
            let huge = #"{"accelerator": {"name": "ga", "description": "\#(String(repeating: "x", count: 4096))"}}"#
            expectError(try await api.call(.post, "/v1/accelerators", huge), 413, "GA.9001", mentioning: "2048")
            let accelerator = try await api.createAccelerator()
            expectError(
                try await api.call(.put, "/v1/accelerators/\(accelerator)", #"{"accelerator": {"name": true}}"#),
                400,
                "GA.9001",
                mentioning: "accelerator.name"
            )
            #expect(try await api.call(.get, "/v1/accelerators/\(accelerator)").object("accelerator")["name"] as? String == "ga-1")
        }
    }

    @Test func unknownPathsMethodsAndIDs() async throws {
        try await TestServer().run { api in
            expectError(try await api.call(.get, "/v1/nothing-here"), 404, "APIGW.0101")
            expectError(try await api.call(.get, "/elsewhere"), 404, "APIGW.0101")
            let patch = try await api.call(.patch, "/v1/accelerators")
            expectError(patch, 405, "APIGW.0101")
            #expect(patch.headers[.allow] == "GET, POST")
            let post = try await api.call(.post, "/v1/listeners/abc", "{}")
            expectError(post, 405, "APIGW.0101")
            #expect(post.headers[.allow] == "DELETE, GET, PUT")
            // Path parameters are checked after percent-decoding: 20 characters of two UTF-8 bytes each are 20
            // characters, not the 120 of their encoded text.
            let twenty = String(repeating: "%C3%A9", count: 20)
            expectError(try await api.call(.get, "/v1/listeners/\(twenty)"), 404, "GA.9002", mentioning: "\u{e9}")
            expectError(
                try await api.call(.get, "/v1/listeners/\(String(repeating: "%C3%A9", count: 37))"),
                400,
                "GA.9001",
                mentioning: "listener_id"
            )
            expectError(try await api.call(.get, "/v1/listeners/%C3"), 400, "GA.9001", mentioning: "listener_id")
            expectError(try await api.call(.get, "/v1/listeners/\(String(repeating: "a", count: 37))"), 400, "GA.9001", mentioning: "listener_id")
            expectError(try await api.call(.get, "/v1/health-checks/unknown"), 404, "GA.9002")
            expectError(try await api.call(.put, "/v1/endpoint-groups/unknown", #"{"endpoint_group": {"name": "x"}}"#), 404, "GA.9002")
            expectError(try await api.call(.delete, "/v1/listeners/unknown"), 404, "GA.9002")
            expectError(try await api.call(.get, "/v1/accelerators?limit=0"), 400, "GA.9001", mentioning: "limit")
            expectError(try await api.call(.get, "/v1/accelerators?limit=2001"), 400, "GA.9001", mentioning: "limit")
            expectError(try await api.call(.get, "/v1/accelerators?limit=ten"), 400, "GA.9001", mentioning: "limit")
            expectError(try await api.call(.get, "/v1/accelerators?page_reverse=maybe"), 400, "GA.9001", mentioning: "page_reverse")
            // A key may repeat only where the document declares a list: handlers read the first value, while the
            // signature covers every one, so `limit=1&limit=2000` and `limit=2000&limit=1` would sign alike.
            expectError(try await api.call(.get, "/v1/accelerators?limit=1&limit=2000"), 400, "GA.9001", mentioning: "limit")
            #expect(try await api.call(.get, "/v1/logtanks?resource_ids=a&resource_ids=b").status == 200)
            // Empty path segments do not get a request past authentication: it is checked on the routed path.
            expectError(try await api.call(.get, "//v1/accelerators", auth: .anonymous), 401, "APIGW.0301")
            #expect(try await api.call(.get, "//v1/accelerators").status == 200)
        }
    }
}
