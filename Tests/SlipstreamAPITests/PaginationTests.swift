import Foundation
import Testing

@testable import SlipstreamTestSupport

@Suite struct PaginationTests {
    @Test func markerPagingForwardBackwardAndTerraformStyle() async throws {
        try await TestServer().run { api in
            var ids: [String] = []
            for index in 0..<7 { ids.append(try await api.createAccelerator(name: "ga-\(index)")) }

            // Forward pages of three.
            var seen: [String] = []
            var marker: String?
            var pages = 0
            repeat {
                let response = try await api.call(.get, "/v1/accelerators?limit=3" + (marker.map { "&marker=\($0)" } ?? ""))
                let page = response.list("accelerators").compactMap { $0["id"] as? String }
                let info = try #require(response.json["page_info"] as? [String: Any])
                #expect(info["current_count"] as? Int == page.count)
                seen += page
                marker = info["next_marker"] as? String
                if let marker { #expect(marker == page.last) }
                pages += 1
            } while marker != nil && pages < 10
            #expect(seen == ids)
            #expect(pages == 3)

            // Backwards from the end.
            let reverse = try await api.call(.get, "/v1/accelerators?limit=2&page_reverse=true&marker=\(ids[4])")
            #expect(reverse.list("accelerators").compactMap { $0["id"] as? String } == [ids[3], ids[2]])
            #expect((reverse.json["page_info"] as? [String: Any])?["next_marker"] as? String == ids[2])

            // A terraform-style pager: no limit, marker = last id, stop at an empty page.
            var all: [String] = []
            var last: String?
            for _ in 0..<10 {
                let response = try await api.call(.get, "/v1/accelerators" + (last.map { "?marker=\($0)" } ?? ""))
                let page = response.list("accelerators").compactMap { $0["id"] as? String }
                if page.isEmpty { break }
                all += page
                last = page.last
            }
            #expect(all == ids)

            // A marker naming a deleted item still pages on from its place.
            #expect(try await api.call(.delete, "/v1/accelerators/\(ids[2])").status == 204)
            try await api.waitForGone("/v1/accelerators/\(ids[2])", "accelerator")
            let after = try await api.call(.get, "/v1/accelerators?limit=2&marker=\(ids[2])")
            #expect(after.list("accelerators").compactMap { $0["id"] as? String } == [ids[3], ids[4]])
        }
    }

    @Test func statusFilterSeesLifecycle() async throws {
        try await TestServer().run { api in
            let id = try await api.createAccelerator()
            try await api.waitForStatus("/v1/accelerators/\(id)", "accelerator", "ACTIVE")
            #expect(try await api.call(.get, "/v1/accelerators?status=ACTIVE").list("accelerators").count == 1)
            #expect(try await api.call(.get, "/v1/accelerators?status=ERROR").list("accelerators").isEmpty)
            #expect(try await api.call(.get, "/v1/accelerators?id=\(id)").list("accelerators").count == 1)
            #expect(try await api.call(.get, "/v1/accelerators?enterprise_project_id=other").list("accelerators").isEmpty)
        }
    }
}
