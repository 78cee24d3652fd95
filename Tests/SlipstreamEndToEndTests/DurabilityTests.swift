import Foundation
import Testing

@testable import SlipstreamTestSupport

@Suite struct DurabilityTests {
    @Test func stateSurvivesARestart() async throws {
        let server = TestServer()
        let box = IDBox()
        try await server.run { api in
            box.id = try await api.createAccelerator(name: "kept")
        }
        let id = try #require(box.id)
        try await server.run { api in
            let response = try await api.call(.get, "/v1/accelerators/\(id)")
            #expect(response.status == 200)
            #expect(response.object("accelerator")["name"] as? String == "kept")
        }
    }
}

final class IDBox: @unchecked Sendable {
    var id: String?
}
