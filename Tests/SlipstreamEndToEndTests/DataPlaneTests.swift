import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import SlipstreamTestSupport

/// End to end: the API configures, the embedded PoP binds real sockets on loopback, and bytes cross them.
@Suite struct DataPlaneTests {
    @Test func weightsAreHonouredAndWeightZeroGetsNothing() async throws {
        let space = DataPlaneTestSpace(1)
        let a = try await EchoBackend(host: "127.0.0.2", port: space.port)
        let b = try await EchoBackend(host: "127.0.0.3", port: space.port)
        let c = try await EchoBackend(host: "127.0.0.4", port: space.port)
        defer { Task { for backend in [a, b, c] { try? await backend.stop() } } }
        try await space.server().run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port)
            _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.2", weight: 3)
            _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.3", weight: 1)
            let zero = try await api.addEndpoint(groupID: group, ip: "127.0.0.4", weight: 0)
            try await api.waitActive([("/v1/listeners/\(listener)", "listener"), ("/v1/endpoint-groups/\(group)/endpoints/\(zero)", "endpoint")])
            var counts: [String: Int] = [:]
            for _ in 0..<400 {
                counts[Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port)), default: 0] += 1
            }
            // Smooth weighted round-robin is exact over whole cycles; allow a little for the cycle in progress.
            #expect(abs((counts["127.0.0.2"] ?? 0) - 300) <= 4, "\(counts)")
            #expect(abs((counts["127.0.0.3"] ?? 0) - 100) <= 4, "\(counts)")
            #expect(counts["127.0.0.4"] == nil, "\(counts)")

            // Every flow ended on both sides once its client closed; the bytes show up in the metrics.
            #expect(try await api.metricsShow(#"slipstream_listener_active_connections{listener_id="\#(listener)"} 0"#))
            let metrics = try await api.call(.get, "/metrics", auth: .anonymous).text
            #expect(metrics.contains(#"slipstream_listener_connections_total{listener_id="\#(listener)"} 400"#))
            #expect(metrics.contains(#"slipstream_listener_bytes_in_total{listener_id="\#(listener)"} 800"#))
        }
    }

    @Test func sourceAffinityKeepsClientsOnOneEndpoint() async throws {
        let space = DataPlaneTestSpace(2)
        let backends = [
            try await EchoBackend(host: "127.0.0.2", port: space.port), try await EchoBackend(host: "127.0.0.3", port: space.port),
            try await EchoBackend(host: "127.0.0.4", port: space.port),
        ]
        defer { Task { for backend in backends { try? await backend.stop() } } }
        try await space.server().run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port, affinity: "SOURCE_IP")
            for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] { _ = try await api.addEndpoint(groupID: group, ip: ip) }
            try await api.waitActive([("/v1/listeners/\(listener)", "listener")])
            try await api.waitEndpointsActive(group)
            var used = Set<String>()
            for client in 1...30 {
                let source = "127.0.2.\(client)"
                let first = Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port, from: source))
                for _ in 0..<4 {
                    #expect(Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port, from: source)) == first)
                }
                used.insert(first)
            }
            #expect(used.count == 3, "30 clients all landed on \(used)")
        }
    }

    @Test func unhealthyEndpointsAreAvoidedAndComeBack() async throws {
        let space = DataPlaneTestSpace(3)
        let healthy = try await EchoBackend(host: "127.0.0.2", port: space.port)
        let flaky = try await EchoBackend(host: "127.0.0.3", port: space.port)
        defer { Task { for backend in [healthy, flaky] { try? await backend.stop() } } }
        try await space.server().run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port)
            _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            let flakyID = try await api.addEndpoint(groupID: group, ip: "127.0.0.3")
            _ = try await api.create(
                "/v1/health-checks",
                "health_check",
                #"{"health_check": {"endpoint_group_id": "\#(group)", "protocol": "TCP", "port": \#(space.port), "interval": 1, "timeout": 1, "max_retries": 2, "enabled": true}}"#
            )
            try await api.waitActive([("/v1/listeners/\(listener)", "listener")])
            let endpointURI = "/v1/endpoint-groups/\(group)/endpoints/\(flakyID)"
            #expect(try await api.waitFor(endpointURI, "endpoint") { $0["health_state"] as? String == "HEALTHY" })

            try await flaky.stop()
            // interval × retries = 2 s, plus slack.
            #expect(try await api.waitFor(endpointURI, "endpoint", seconds: 4) { $0["health_state"] as? String == "UNHEALTHY" })
            for _ in 0..<40 {
                #expect(Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port)) == "127.0.0.2")
            }

            try await flaky.start()
            #expect(try await api.waitFor(endpointURI, "endpoint", seconds: 6) { $0["health_state"] as? String == "HEALTHY" })
            var seen = Set<String>()
            for _ in 0..<20 { seen.insert(Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port))) }
            #expect(seen == ["127.0.0.2", "127.0.0.3"])
        }
    }

    @Test func failedConnectsTryTheNextEndpoint() async throws {
        let space = DataPlaneTestSpace(4)
        let alive = try await EchoBackend(host: "127.0.0.2", port: space.port)
        defer { Task { try? await alive.stop() } }
        try await space.server().run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port)
            _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            let dead = try await api.addEndpoint(groupID: group, ip: "127.0.0.9")  // nothing listens there
            try await api.waitActive([("/v1/listeners/\(listener)", "listener")])
            try await api.waitEndpointsActive(group)
            for _ in 0..<20 {
                #expect(Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port)) == "127.0.0.2")
            }
            let metrics = try await api.call(.get, "/metrics", auth: .anonymous).text
            let series = #"slipstream_endpoint_connect_failures_total{endpoint_id="\#(dead)",listener_id="\#(listener)"}"#
            let failures: Double = metricSample(metrics, series) ?? 0
            #expect(failures >= 1, "\(series) is \(failures)")
        }
    }

    @Test func udpEchoThroughAListener() async throws {
        let space = DataPlaneTestSpace(5)
        let backend = try await EchoBackend(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port, protocol: "UDP")
            _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            try await api.waitActive([("/v1/listeners/\(listener)", "listener")])
            try await api.waitEndpointsActive(group)
            let (reply, from) = try await Traffic.udpRoundTrip(address, space.port, payload: "ping")
            #expect(reply == "127.0.0.2:ping")
            // The reply comes from the accelerator's address and port.
            #expect(from == "\(address):\(space.port)")
        }
    }

    @Test func aTakenPortEndsInError() async throws {
        let space = DataPlaneTestSpace(6)
        try await space.server().run { api in
            // Something else holds the accelerator's first address and the port already.
            let squatter = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(host: "127.11.6.1", port: space.port).get()
            let (_, listener, _) = try await api.acceleratorWithListener(port: space.port)
            #expect(try await api.waitFor("/v1/listeners/\(listener)", "listener") { $0["status"] as? String == "ERROR" })
            let metrics = try await api.call(.get, "/metrics", auth: .anonymous).text
            #expect(metrics.contains(#"slipstream_apply_errors{kind="listener",id="\#(listener)""#))
            // Once the port is free, the retry succeeds.
            try await squatter.close()
            #expect(try await api.waitFor("/v1/listeners/\(listener)", "listener") { $0["status"] as? String == "ACTIVE" })
        }
    }

    @Test func trafficDialSplitsLocalAndRemote() async throws {
        let space = DataPlaneTestSpace(7)
        let local = try await EchoBackend(host: "127.0.0.2", port: space.port)
        let remote = try await EchoBackend(host: "127.0.0.3", port: space.port)
        defer { Task { for backend in [local, remote] { try? await backend.stop() } } }
        // The PoP is in ap-southeast-1; cn-east-3 is remote.
        try await space.server { $0.popRegion = "ap-southeast-1" }.run { api in
            let (address, listener, localGroup) = try await api.acceleratorWithListener(port: space.port, region: "ap-southeast-1")
            let remoteGroup = try await api.createEndpointGroup(listenerID: listener, region: "cn-east-3")
            _ = try await api.addEndpoint(groupID: localGroup, ip: "127.0.0.2")
            _ = try await api.addEndpoint(groupID: remoteGroup, ip: "127.0.0.3")
            #expect(
                try await api.call(.put, "/v1/endpoint-groups/\(localGroup)", #"{"endpoint_group": {"traffic_dial_percentage": 25}}"#).status == 200
            )
            try await api.waitActive([("/v1/endpoint-groups/\(localGroup)", "endpoint_group"), ("/v1/listeners/\(listener)", "listener")])
            try await api.waitEndpointsActive(localGroup)
            try await api.waitEndpointsActive(remoteGroup)
            var counts: [String: Int] = [:]
            for _ in 0..<200 { counts[Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port)), default: 0] += 1 }
            #expect(abs((counts["127.0.0.2"] ?? 0) - 50) <= 2, "\(counts)")
            #expect(abs((counts["127.0.0.3"] ?? 0) - 150) <= 2, "\(counts)")
        }
    }

    @Test func halfCloseAndLiveChangesKeepOtherConnections() async throws {
        let space = DataPlaneTestSpace(8)
        let a = try await EchoBackend(host: "127.0.0.2", port: space.port, replyOnEOF: true)
        let b = try await EchoBackend(host: "127.0.0.3", port: space.port)
        defer { Task { for backend in [a, b] { try? await backend.stop() } } }
        try await space.server { $0.drainTimeoutSeconds = 1 }.run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port)
            let first = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            try await api.waitActive([("/v1/listeners/\(listener)", "listener")])
            try await api.waitEndpointsActive(group)

            // A long-lived connection through the listener.
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connect(host: address, port: space.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                    }
                }
            try await channel.executeThenClose { inbound, outbound in
                var replies = inbound.makeAsyncIterator()
                try await outbound.write(ByteBuffer(string: "one"))
                #expect(String(buffer: try await replies.next() ?? ByteBuffer()) == "127.0.0.2:one")

                // Other configuration changes apply while it stays open.
                _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.3")
                try await api.waitEndpointsActive(group)
                let other = try await api.acceleratorWithListener(port: space.port + 1)
                try await api.waitActive([("/v1/listeners/\(other.listenerID)", "listener")])
                try await outbound.write(ByteBuffer(string: "two"))
                #expect(String(buffer: try await replies.next() ?? ByteBuffer()) == "127.0.0.2:two")

                // Half-close: the endpoint sees end of input and can still answer.
                outbound.finish()
                #expect(String(buffer: try await replies.next() ?? ByteBuffer()) == "127.0.0.2:eof")
            }

            // Removing an endpoint: no new flows to it; an open flow lasts at most the drain timeout.
            var open: (any Channel)?
            for _ in 0..<4 where open == nil {
                let (candidate, reply) = try await Traffic.openConnection(address, space.port, payload: "hello")
                if reply == "127.0.0.2:hello" {
                    open = candidate
                } else {
                    try await candidate.close()
                }
            }
            let drained = try #require(open)
            #expect(try await api.call(.delete, "/v1/endpoint-groups/\(group)/endpoints/\(first)").status == 204)
            try await api.waitForGone("/v1/endpoint-groups/\(group)/endpoints/\(first)", "endpoint")
            for _ in 0..<10 {
                #expect(Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port)) == "127.0.0.3")
            }
            // The drained flow still works until the drain timeout (1 s) closes it.
            let started = ContinuousClock.now
            try await drained.closeFuture.get()
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    /// A UDP session on an endpoint that is removed ends after the drain timeout, even while its client keeps
    /// sending: the same client socket's next datagram opens a session on an endpoint that is still there.
    @Test func udpSessionsOfARemovedEndpointMoveAfterTheDrainTimeout() async throws {
        let space = DataPlaneTestSpace(24)
        let a = try await EchoBackend(host: "127.0.0.2", port: space.port)
        let b = try await EchoBackend(host: "127.0.0.3", port: space.port)
        defer { Task { for backend in [a, b] { try? await backend.stop() } } }
        try await space.server { $0.drainTimeoutSeconds = 1 }.run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port, protocol: "UDP")
            let first = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            try await api.waitActive([("/v1/listeners/\(listener)", "listener")])
            try await api.waitEndpointsActive(group)
            let client = try await DatagramClient.open()
            defer { client.close() }
            let target = try SocketAddress(ipAddress: address, port: space.port)
            func reply() async throws -> String? {
                try await client.roundTrip(ByteBuffer(string: "ping"), to: target).map { String(buffer: $0) }
            }
            #expect(try await reply() == "127.0.0.2:ping")
            _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.3")
            try await api.waitEndpointsActive(group)
            #expect(try await api.call(.delete, "/v1/endpoint-groups/\(group)/endpoints/\(first)").status == 204)
            try await api.waitForGone("/v1/endpoint-groups/\(group)/endpoints/\(first)", "endpoint")
            // Traffic every 20 ms keeps the session from going idle; the drain timeout (1 s) ends it all the same.
            #expect(try await eventually(timeout: .seconds(5)) { try await reply() == "127.0.0.3:ping" })
        }
    }

    @Test func clientsThatCloseAtOnceOrSendEarlyAreServedAndCleanedUp() async throws {
        let space = DataPlaneTestSpace(9)
        let backend = try await EchoBackend(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port)
            _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            try await api.waitActive([("/v1/listeners/\(listener)", "listener")])
            try await api.waitEndpointsActive(group)
            // Connect and close before the endpoint connection exists.
            for _ in 0..<20 {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: address, port: space.port).get()
                try await channel.close()
            }
            // Send and half-close at once: the bytes and the end-of-input reach the endpoint.
            for index in 0..<20 {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .connect(host: address, port: space.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(isOutboundHalfClosureEnabled: true)
                            )
                        }
                    }
                let reply = try await withDeadline(seconds: 5) {
                    try await channel.executeThenClose { inbound, outbound in
                        try await outbound.write(ByteBuffer(string: "early-\(index)"))
                        outbound.finish()
                        var text = ""
                        for try await buffer in inbound { text += String(buffer: buffer) }
                        return text
                    }
                }
                #expect(reply == "127.0.0.2:early-\(index)")
            }
            // Every one of those flows ended on both sides.
            #expect(try await api.metricsShow(#"slipstream_listener_active_connections{listener_id="\#(listener)"} 0"#))
            let metrics = try await api.call(.get, "/metrics", auth: .anonymous).text
            #expect(metrics.contains(#"slipstream_listener_connections_total{listener_id="\#(listener)"} 40"#))
        }
    }
}

@Suite struct AccessControlTests {
    @Test func whiteAndBlackListsDecideWhoGetsIn() async throws {
        let space = DataPlaneTestSpace(10)
        let backend = try await EchoBackend(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port)
            let endpoint = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            let ipGroup =
                try await api.create("/v1/ip-groups", "ip_group", #"{"ip_group": {"name": "acl", "ip_list": [{"cidr": "127.0.3.0/24"}]}}"#)["id"]
                as! String
            try await api.waitEndpointsActive(group)
            #expect(
                try await api.call(.post, "/v1/ip-groups/\(ipGroup)/associate-listener", #"{"listener_id": "\#(listener)", "type": "WHITE"}"#).status
                    == 200
            )
            #expect(try await api.waitFor("/v1/ip-groups/\(ipGroup)", "ip_group") { $0["status"] as? String == "ACTIVE" })

            // WHITE: only listed sources get through; others are closed before reaching an endpoint.
            #expect(try await Traffic.tcpRoundTrip(address, space.port, from: "127.0.3.7") == "127.0.0.2:hi")
            #expect(await Traffic.isRefused(address, space.port, from: "127.0.4.7"))

            // BLACK: listed sources are refused.
            #expect(try await api.call(.post, "/v1/ip-groups/\(ipGroup)/disassociate-listener", #"{"listener_id": "\#(listener)"}"#).status == 200)
            #expect(
                try await api.call(.post, "/v1/ip-groups/\(ipGroup)/associate-listener", #"{"listener_id": "\#(listener)", "type": "BLACK"}"#).status
                    == 200
            )
            #expect(try await api.waitFor("/v1/ip-groups/\(ipGroup)", "ip_group") { $0["status"] as? String == "ACTIVE" })
            #expect(await Traffic.isRefused(address, space.port, from: "127.0.3.7"))
            #expect(try await Traffic.tcpRoundTrip(address, space.port, from: "127.0.4.7") == "127.0.0.2:hi")

            // Without the binding everyone is admitted again.
            #expect(try await api.call(.post, "/v1/ip-groups/\(ipGroup)/disassociate-listener", #"{"listener_id": "\#(listener)"}"#).status == 200)
            #expect(try await api.waitFor("/v1/ip-groups/\(ipGroup)", "ip_group") { $0["status"] as? String == "ACTIVE" })
            #expect(try await Traffic.tcpRoundTrip(address, space.port, from: "127.0.3.7") == "127.0.0.2:hi")

            let metrics = try await api.call(.get, "/metrics", auth: .anonymous).text
            #expect(metrics.contains(#"slipstream_listener_denied_total{listener_id="\#(listener)"} 2"#))
            // Three flows got through: one per list state above.
            #expect(metrics.contains(#"slipstream_endpoint_connections_total{endpoint_id="\#(endpoint)",listener_id="\#(listener)"} 3"#))
        }
    }
}

@Suite struct AccessLogTests {
    /// Reads the JSON lines of a sink until `count` records are there, for up to five seconds.
    static func records(_ dataDirectory: String, group: String, stream: String, count: Int) async throws -> [[String: Any]] {
        let path = "\(dataDirectory)/logs/\(group)/\(stream).log"
        func read() -> [[String: Any]] {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        return try await poll(every: .milliseconds(50)) {
            let records = read()
            return records.count >= count ? records : nil
        } ?? read()
    }

    @Test func finishedFlowsAreLoggedWithTheirBytes() async throws {
        let space = DataPlaneTestSpace(11)
        let backend = try await EchoBackend(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server { $0.udpIdleTimeoutSeconds = 1 }.run { api in
            let (address, listener, group) = try await api.acceleratorWithListener(port: space.port)
            let endpoint = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
            let udp = try await api.acceleratorWithListener(port: space.port, protocol: "UDP")
            _ = try await api.addEndpoint(groupID: udp.groupID, ip: "127.0.0.2")
            for (id, stream) in [(listener, "tcp"), (udp.listenerID, "udp")] {
                let logtank =
                    try await api.create(
                        "/v1/logtanks",
                        "logtank",
                        #"{"logtank": {"resource_type": "LISTENER", "resource_id": "\#(id)", "log_group_id": "edge", "log_stream_id": "\#(stream)"}}"#
                    )["id"] as! String
                try await api.waitForStatus("/v1/logtanks/\(logtank)", "logtank", "ACTIVE")
            }
            try await api.waitEndpointsActive(group)
            try await api.waitEndpointsActive(udp.groupID)

            // Payloads of 5 and 11 bytes; each reply is the endpoint's address, a colon and the payload.
            _ = try await Traffic.tcpRoundTrip(address, space.port, payload: "hello")
            _ = try await Traffic.tcpRoundTrip(address, space.port, payload: "hello again", from: "127.0.5.9")
            let tcp = try await Self.records(api.dataDirectory, group: "edge", stream: "tcp", count: 2)
            try #require(tcp.count == 2, "\(tcp)")
            let bytes = tcp.map { ($0["bytes_in"] as? Int ?? -1, $0["bytes_out"] as? Int ?? -1) }.sorted { $0.0 < $1.0 }
            #expect(bytes.map(\.0) == [5, 11])
            #expect(bytes.map(\.1) == [15, 21])
            let second = try #require(tcp.first { $0["bytes_in"] as? Int == 11 })
            #expect(second["client_address"] as? String == "127.0.5.9")
            #expect(second["accelerator_address"] as? String == address)
            #expect(second["accelerator_port"] as? Int == space.port)
            #expect(second["endpoint_id"] as? String == endpoint)
            #expect(second["listener_id"] as? String == listener)
            #expect(second["protocol"] as? String == "TCP")
            #expect(second["end"] as? String == "closed")
            #expect((second["time"] as? String)?.hasSuffix("Z") == true)
            #expect(second["duration_ms"] is Int)

            // A UDP session is logged when it idles out.
            _ = try await Traffic.udpRoundTrip(udp.address, space.port, payload: "ping")
            let sessions = try await Self.records(api.dataDirectory, group: "edge", stream: "udp", count: 1)
            #expect(sessions.first?["end"] as? String == "idle_timeout")
            #expect(sessions.first?["bytes_in"] as? Int == 4)
            #expect(sessions.first?["bytes_out"] as? Int == 14)
            #expect(sessions.first?["protocol"] as? String == "UDP")
        }
    }
}
