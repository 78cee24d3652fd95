import Foundation
import Testing

@testable import SlipstreamTestSupport

@Suite struct TagTests {
    @Test func tagsPerResourceKeysAndQueries() async throws {
        try await TestServer().run { api in
            let web =
                try await api.create(
                    "/v1/accelerators",
                    "accelerator",
                    #"{"accelerator": {"name": "web", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}], "tags": [{"key": "env", "value": "prod"}]}}"#
                )["id"] as! String
            let api2 = try await api.createAccelerator(name: "api")
            let batch = try await api.createAccelerator(name: "batch")

            #expect(
                try await api.call(
                    .post,
                    "/v1/ga-accelerators/\(api2)/tags/create",
                    #"{"tags": [{"key": "env", "value": "dev"}, {"key": "team", "value": "core"}]}"#
                ).status == 204
            )
            #expect(
                try await api.call(.post, "/v1/ga-accelerators/\(batch)/tags/create", #"{"tags": [{"key": "team", "value": "data"}]}"#).status == 204
            )
            // A key the resource has takes the new value.
            #expect(
                try await api.call(.post, "/v1/ga-accelerators/\(web)/tags/create", #"{"tags": [{"key": "env", "value": "staging"}]}"#).status == 204
            )
            let shown = try await api.call(.get, "/v1/ga-accelerators/\(web)/tags")
            #expect(shown.list("tags").map { "\($0["key"]!)=\($0["value"]!)" } == ["env=staging"])
            #expect(
                try await api.call(.get, "/v1/accelerators/\(web)").object("accelerator")["tags"] as? [[String: String]] == [
                    ["key": "env", "value": "staging"]
                ]
            )

            expectError(
                try await api.call(
                    .post,
                    "/v1/ga-accelerators/\(web)/tags/create",
                    #"{"tags": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}"#
                ),
                400,
                "GA.9107"
            )
            expectError(
                try await api.call(.post, "/v1/ga-accelerators/\(web)/tags/create", #"{"tags": [{"key": "", "value": "1"}]}"#),
                400,
                "GA.9109"
            )
            expectError(try await api.call(.post, "/v1/ga-accelerators/\(web)/tags/create", #"{"tags": []}"#), 400, "GA.9001", mentioning: "tags")
            expectError(
                try await api.call(.post, "/v1/ga-buckets/\(web)/tags/create", #"{"tags": [{"key": "a", "value": "1"}]}"#),
                400,
                "GA.9001",
                mentioning: "resource_type"
            )
            expectError(try await api.call(.get, "/v1/ga-listeners/\(web)/tags"), 404, "GA.9002")

            let keys = try await api.call(.get, "/v1/ga-accelerators/tags")
            #expect(keys.json["total_count"] as? Int == 2)
            #expect(keys.list("tags").map { $0["key"] as? String } == ["env", "team"])
            #expect(keys.list("tags").first?["values"] as? [String] == ["dev", "staging"])
            #expect(try await api.call(.get, "/v1/ga-accelerators/tags?limit=1&offset=1").list("tags").map { $0["key"] as? String } == ["team"])

            // Keys AND-ed, values of one key OR-ed, a key without values means "has the key".
            let teamCore = try await api.call(
                .post,
                "/v1/ga-accelerators/resource-instances/filter",
                #"{"tags": [{"key": "team", "values": ["core", "data"]}]}"#
            )
            #expect(Set(teamCore.list("resources").compactMap { $0["resource_id"] as? String }) == [api2, batch])
            #expect(teamCore.json["total_count"] as? Int == 2)
            let both = try await api.call(
                .post,
                "/v1/ga-accelerators/resource-instances/filter",
                #"{"tags": [{"key": "team", "values": []}, {"key": "env", "values": ["dev"]}]}"#
            )
            #expect(both.list("resources").compactMap { $0["resource_id"] as? String } == [api2])
            #expect(both.list("resources").first?["resource_name"] as? String == "api")
            let named = try await api.call(
                .post,
                "/v1/ga-accelerators/resource-instances/filter?limit=1",
                #"{"matches": [{"key": "resource_name", "value": "bat"}]}"#
            )
            #expect(named.json["total_count"] as? Int == 1)
            let paged = try await api.call(.post, "/v1/ga-accelerators/resource-instances/filter?limit=2&offset=2", "{}")
            #expect(paged.list("resources").count == 1)
            #expect(paged.json["total_count"] as? Int == 3)
            let counted = try await api.call(.post, "/v1/ga-accelerators/resource-instances/count", #"{"tags": [{"key": "env", "values": []}]}"#)
            #expect(counted.json["total_count"] as? Int == 2)
            expectError(
                try await api.call(.post, "/v1/ga-accelerators/resource-instances/count", #"{"tags": [{"key": "env", "values": ["a", "a"]}]}"#),
                400,
                "GA.9108"
            )
            expectError(
                try await api.call(.post, "/v1/ga-accelerators/resource-instances/filter?limit=1001", "{}"),
                400,
                "GA.9001",
                mentioning: "limit"
            )

            #expect(
                try await api.call(.delete, "/v1/ga-accelerators/\(api2)/tags/delete", #"{"tags": [{"key": "env"}, {"key": "missing"}]}"#).status
                    == 204
            )
            #expect(try await api.call(.get, "/v1/ga-accelerators/\(api2)/tags").list("tags").map { $0["key"] as? String } == ["team"])
            expectError(try await api.call(.delete, "/v1/ga-accelerators/\(api2)/tags/delete", #"{"tags": [{"key": ""}]}"#), 400, "GA.9109")

            // Listeners, and the quota route living beside the tag routes.
            let listener = try await api.createListener(acceleratorID: web)
            #expect(
                try await api.call(.post, "/v1/ga-listeners/\(listener)/tags/create", #"{"tags": [{"key": "tier", "value": "edge"}]}"#).status == 204
            )
            #expect(
                try await api.call(.get, "/v1/listeners/\(listener)").object("listener")["tags"] as? [[String: String]] == [
                    ["key": "tier", "value": "edge"]
                ]
            )
            #expect(try await api.call(.get, "/v1/\(api.credentials.domainID)/ga/quotas").status == 200)

            // Other accounts see none of it.
            let b = Auth.signed(try await api.createAccount("tenant-b"))
            expectError(try await api.call(.get, "/v1/ga-accelerators/\(web)/tags", auth: b), 404, "GA.9002")
            #expect(try await api.call(.get, "/v1/ga-accelerators/tags", auth: b).json["total_count"] as? Int == 0)
            #expect(try await api.call(.post, "/v1/ga-accelerators/resource-instances/count", "{}", auth: b).json["total_count"] as? Int == 0)
        }
    }
}
