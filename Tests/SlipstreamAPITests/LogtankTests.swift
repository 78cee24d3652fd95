import Foundation
import Logging
import Testing

@testable import SlipstreamDataPlane
@testable import SlipstreamTestSupport

@Suite struct LogtankTests {
    @Test func logtankOperations() async throws {
        try await TestServer().run { api in
            let accelerator = try await api.createAccelerator()
            let listener = try await api.createListener(acceleratorID: accelerator)
            let other = try await api.createListener(acceleratorID: accelerator, from: 81, to: 81)
            let created = try await api.create(
                "/v1/logtanks",
                "logtank",
                #"{"logtank": {"resource_type": "LISTENER", "resource_id": "\#(listener)", "log_group_id": "web", "log_stream_id": "edge-1"}}"#
            )
            let id = try #require(created["id"] as? String)
            #expect(created["status"] as? String == "PENDING")
            #expect(created["resource_id"] as? String == listener)
            #expect(created["resource_type"] as? String == "LISTENER")
            try await api.waitForStatus("/v1/logtanks/\(id)", "logtank", "ACTIVE")

            func body(_ listener: String, group: String = "web", stream: String = "s") -> String {
                #"{"logtank": {"resource_type": "LISTENER", "resource_id": "\#(listener)", "log_group_id": "\#(group)", "log_stream_id": "\#(stream)"}}"#
            }
            expectError(try await api.call(.post, "/v1/logtanks", body(listener)), 400, "GA.9104")
            expectError(try await api.call(.post, "/v1/logtanks", body("missing")), 404, "GA.9002")
            expectError(try await api.call(.post, "/v1/logtanks", body(other, group: "../etc")), 400, "GA.9001", mentioning: "log_group_id")
            expectError(
                try await api.call(.post, "/v1/logtanks", body(other).replacingOccurrences(of: "LISTENER", with: "ACCELERATOR")),
                400,
                "GA.9001",
                mentioning: "resource_type"
            )
            let second = try await api.create("/v1/logtanks", "logtank", body(other, stream: "other"))["id"] as! String

            let filtered = try await api.call(.get, "/v1/logtanks?resource_ids=\(other)")
            #expect(filtered.list("logtanks").map { $0["id"] as? String } == [second])
            #expect(try await api.call(.get, "/v1/logtanks?resource_ids=\(other)&resource_ids=\(listener)").list("logtanks").count == 2)
            #expect(try await api.call(.get, "/v1/logtanks?limit=1").list("logtanks").map { $0["id"] as? String } == [id])

            let updated = try await api.call(.put, "/v1/logtanks/\(id)", #"{"logtank": {"log_group_id": "web", "log_stream_id": "edge-2"}}"#)
            #expect(updated.object("logtank")["log_stream_id"] as? String == "edge-2")
            expectError(
                try await api.call(.put, "/v1/logtanks/\(id)", #"{"logtank": {"log_group_id": "web"}}"#),
                400,
                "GA.9001",
                mentioning: "log_stream_id"
            )

            // A listener with a logtank cannot be deleted; the logtank can.
            expectError(try await api.call(.delete, "/v1/listeners/\(listener)"), 409, "GA.9005", mentioning: "logtank")
            #expect(try await api.call(.delete, "/v1/logtanks/\(id)").status == 204)
            try await api.waitForGone("/v1/logtanks/\(id)", "logtank")
            let b = Auth.signed(try await api.createAccount("tenant-b"))
            expectError(try await api.call(.get, "/v1/logtanks/\(second)", auth: b), 404, "GA.9002")
            #expect(try await api.call(.get, "/v1/logtanks", auth: b).list("logtanks").isEmpty)
        }
    }

    @Test func rotationKeepsAFixedNumberOfFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("slipstream-logs-\(UUID().uuidString)").path
        let writer = AccessLogWriter(directory: directory, maxFileBytes: 1024, keepFiles: 2, logger: Logger(label: "test"))
        let sink = LogSink(group: "g", stream: "s")
        for round in 0..<6 {
            for index in 0..<5 {
                writer.record(
                    AccessLogRecord(
                        time: "t",
                        listenerID: "l\(round)-\(index)",
                        protocol: .tcp,
                        clientAddress: "127.0.0.1",
                        clientPort: 1,
                        acceleratorAddress: "127.10.0.1",
                        acceleratorPort: 2,
                        endpointID: "e",
                        endpointAddress: "127.0.0.2",
                        bytesIn: 1,
                        bytesOut: 2,
                        durationMs: 3,
                        end: "closed"
                    ),
                    to: sink
                )
            }
            await writer.flush()
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/g").sorted()
        #expect(files == ["s.log", "s.log.1", "s.log.2"])
        let current = try String(contentsOfFile: "\(directory)/g/s.log", encoding: .utf8)
        #expect(current.split(separator: "\n").allSatisfy { $0.hasPrefix("{") && $0.contains(#""end":"closed""#) })
        let size = try FileManager.default.attributesOfItem(atPath: "\(directory)/g/s.log")[.size] as? Int ?? 0
        #expect(size <= 1024)
    }
}
