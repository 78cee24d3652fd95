import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import SlipstreamTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Faults found under real traffic, each as a kind, end to end through the API and real sockets on loopback.
@Suite struct DataPlaneFaultTests {
    /// Weighted round-robin keeps to the weights with 3 and 4 endpoints: the fallbacks every flow carries do not
    /// move the balancing state.
    @Test(arguments: [[1, 2, 3], [4, 1, 2, 1]])
    func roundRobinSharesHoldWithSeveralEndpoints(weights: [Int]) async throws {
        let space = DataPlaneTestSpace(weights.count == 3 ? 12 : 13)
        let hosts = weights.indices.map { "127.0.0.\($0 + 2)" }
        var started: [EchoBackend] = []
        for host in hosts { started.append(try await EchoBackend(host: host, port: space.port)) }
        let backends = started
        defer { Task { for backend in backends { try? await backend.stop() } } }
        try await space.server().run { api in
            let (address, _, _) = try await api.servingListener(port: space.port, endpoints: Array(zip(hosts, weights)))
            let flows = 100 * weights.reduce(0, +)
            var counts: [String: Int] = [:]
            for _ in 0..<flows { counts[Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port)), default: 0] += 1 }
            let total = Double(weights.reduce(0, +))
            for (host, weight) in zip(hosts, weights) {
                let share = Double(counts[host, default: 0]) / Double(flows)
                #expect(abs(share - Double(weight) / total) <= 0.02, "\(counts) over \(flows) flows")
            }
        }
    }

    /// Datagrams of every size up to 65,507 bytes cross both ways whole.
    @Test func largeDatagramsCrossWhole() async throws {
        let space = DataPlaneTestSpace(14)
        let backend = try await RawUDPEcho(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, _, _) = try await api.servingListener(port: space.port, protocol: "UDP")
            let client = try await DatagramClient.open()
            defer { client.close() }
            let target = try SocketAddress(ipAddress: address, port: space.port)
            for size in [1, 2047, 2048, 2049, 4096, 9000, 32_768, 65_507] {
                let payload = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) })
                let reply = try await client.roundTrip(payload, to: target)
                #expect(reply == payload, "a \(size)-byte datagram came back as \(reply?.readableBytes ?? -1) bytes")
            }
        }
    }

    /// Bursts cross whole and in order both ways: datagrams that wait together on the listener's socket, and replies
    /// that wait together on a session's socket, are taken and sent on in batches; none is lost or reordered, and
    /// each client gets its own replies.
    @Test func datagramBurstsCrossInOrder() async throws {
        let space = DataPlaneTestSpace(26)
        let count = 40
        let backend = try await BurstUDPEcho(host: "127.0.0.2", port: space.port, burst: count)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, _, _) = try await api.servingListener(port: space.port, protocol: "UDP")
            let target = try SocketAddress(ipAddress: address, port: space.port)
            var opened: [DatagramClient] = []
            for _ in 0..<3 { opened.append(try await DatagramClient.open()) }
            let clients = opened
            defer { for client in clients { client.close() } }
            func payloads(_ client: Int) -> [String] {
                (0..<count).map { "client \(client) datagram \($0) " + String(repeating: "x", count: $0 * 7) }
            }
            for (index, client) in clients.enumerated() {
                try await client.sendBurst(payloads(index).map { ByteBuffer(string: $0) }, to: target)
            }
            let arrived = try await eventually(timeout: .seconds(5)) { clients.allSatisfy { $0.received.count >= count } }
            #expect(arrived, "\(clients.map { $0.received.count }) of \(count) replies each")
            for (index, client) in clients.enumerated() {
                #expect(client.received.map { String(buffer: $0) } == payloads(index))
            }
        }
    }

    /// A client that sends while its endpoint's port is closed, and goes on from the same socket once the endpoint
    /// is up, is served: a session whose endpoint socket fails ends instead of swallowing what follows.
    @Test func aUDPSessionRecoversOnceItsEndpointIsUp() async throws {
        let space = DataPlaneTestSpace(15)
        try await space.server().run { api in
            let (address, listener, _) = try await api.servingListener(port: space.port, protocol: "UDP")
            let client = try await DatagramClient.open()
            defer { client.close() }
            let target = try SocketAddress(ipAddress: address, port: space.port)
            // The endpoint's port is closed: a burst goes unanswered, and the port-unreachable ends the session.
            for index in 0..<5 { try await client.send(ByteBuffer(string: "early-\(index)"), to: target) }
            let sessionErrors = #"slipstream_listener_udp_session_errors_total{listener_id="\#(listener)"}"#
            #expect(
                try await eventually { (metricSample(try await api.call(.get, "/metrics", auth: .anonymous).text, sessionErrors) ?? 0) >= 1 },
                "\(sessionErrors) stayed 0"
            )
            // A datagram that meets the failed send is dropped and counted, not lost silently: bursts read in one
            // batch send their second datagram on the socket the first one's port-unreachable failed.
            let dropped = #"slipstream_listener_udp_dropped_datagrams_total{listener_id="\#(listener)"}"#
            #expect(
                try await eventually {
                    try await client.sendBurst((0..<5).map { ByteBuffer(string: "burst-\($0)") }, to: target)
                    return (try await api.metricValue(dropped) ?? 0) >= 1
                },
                "\(dropped) stayed 0"
            )
            let backend = try await RawUDPEcho(host: "127.0.0.2", port: space.port)
            defer { Task { try? await backend.stop() } }
            var echoed = 0
            for index in 0..<20 {
                let payload = ByteBuffer(string: "later-\(index)")
                if try await client.roundTrip(payload, to: target, wait: .milliseconds(500)) == payload { echoed += 1 }
            }
            #expect(echoed >= 18, "\(echoed) of 20 datagrams echoed")
        }
    }

    /// An abort on either side of a TCP flow reaches the other side as an abort, as it would on a direct
    /// connection; a FIN stays a FIN.
    @Test func resetsPropagateBothWays() async throws {
        let space = DataPlaneTestSpace(16)
        let backend = try await ResettingBackend(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, _, _) = try await api.servingListener(port: space.port)
            // The endpoint answers part of a response, then resets: the client sees what a direct client sees.
            // (How much of "partial" arrives before the reset is the kernel's race, direct or not.)
            let direct = try await ResettingBackend.exchange(host: "127.0.0.2", port: space.port, command: "partial-then-reset")
            let proxied = try await ResettingBackend.exchange(host: address, port: space.port, command: "partial-then-reset")
            #expect(direct.isReset, "\(direct)")
            #expect(proxied.isReset, "\(proxied)")
            #expect(
                try await ResettingBackend.exchange(host: "127.0.0.2", port: space.port, command: "partial-then-close")
                    == .closed(received: "partial")
            )
            #expect(
                try await ResettingBackend.exchange(host: address, port: space.port, command: "partial-then-close") == .closed(received: "partial")
            )
            // The client resets: the endpoint sees a reset, not an end of stream.
            try await backend.clientResets(host: address, port: space.port)
            #expect(try await backend.nextEnding() == "reset")
            try await backend.clientCloses(host: address, port: space.port)
            #expect(try await backend.nextEnding() == "eof")
        }
    }

    /// A client reset reaches an endpoint that reads nothing and is blocked writing, as it would on a direct
    /// connection: the proxy does not wait for the bytes it holds towards that endpoint (it never takes them), so
    /// the flow cannot stay open on a side that is not reading.
    @Test func aResetReachesAnEndpointThatReadsNothing() async throws {
        let space = DataPlaneTestSpace(23)
        let port = space.port
        let listener = BlockingSocket.listening(host: "127.0.0.2", port: port, backlog: 8)
        defer { close(listener) }
        #expect(listener >= 0, "listen failed with errno \(errno)")
        // The endpoint writes until its send fails (or 10 s pass) and never reads. Blocking calls that last for the
        // whole test run on threads of their own, not on NIO's small thread pool, which the server needs meanwhile.
        let endpoint = Task {
            await onOwnThread { () -> Int32 in
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return -1 }
                defer { close(fd) }
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let chunk = [UInt8](repeating: 0x65, count: 65536)
                while send(fd, chunk, chunk.count, Int32(MSG_NOSIGNAL)) > 0 {}
                return errno
            }
        }
        try await space.server().run { api in
            let (proxy, _, _) = try await api.servingListener(port: port)
            let dialled = await onOwnThread { () -> Int32 in
                guard let fd = try? BlockingSocket.make(receiveTimeoutSeconds: 10, receiveBuffer: 4096) else { return -1 }
                guard BlockingSocket.dial(fd, host: proxy, port: port) == 0 else { return errno }
                // Fill everything towards the endpoint (its receive buffer, the proxy's buffer, this send buffer),
                // reading nothing of what it sends, then reset.
                let chunk = [UInt8](repeating: 0x63, count: 65536)
                var sent = 0
                while sent < 64 * 1024 * 1024 {
                    let count = send(fd, chunk, chunk.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                    if count > 0 {
                        sent += count
                    } else if errno == EAGAIN {
                        usleep(200_000)
                        if send(fd, chunk, chunk.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && errno == EAGAIN { break }
                    } else {
                        break
                    }
                }
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                close(fd)
                return 0
            }
            #expect(dialled == 0, "the client's connect failed with errno \(dialled)")
            let started = ContinuousClock.now
            let ending = await endpoint.value
            #expect(ending == ECONNRESET || ending == EPIPE, "the endpoint's send ended with errno \(ending)")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    /// An endpoint that speaks first (a greeting on accept, as SMTP, FTP and SSH servers do) is heard by a client
    /// that sends nothing until it has the greeting, whether the greeting arrives with the connect or after it.
    @Test func anEndpointThatSpeaksFirstIsHeard() async throws {
        let space = DataPlaneTestSpace(25)
        let port = space.port
        let flows = 40
        let listener = BlockingSocket.listening(host: "127.0.0.2", port: port, backlog: 64)
        defer { close(listener) }
        #expect(listener >= 0, "listen failed with errno \(errno)")
        // Every other flow's greeting leaves a moment after the accept, so some arrive with the proxy's connect and
        // some after it. Then the endpoint echoes one message and closes.
        let endpoint = Task {
            await onOwnThread { () -> Int in
                var served = 0
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                for index in 0..<flows {
                    let fd = accept(listener, nil, nil)
                    guard fd >= 0 else { break }
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    if index % 2 == 1 { usleep(20_000) }
                    _ = send(fd, "220 ready\r\n", 11, Int32(MSG_NOSIGNAL))
                    var buffer = [UInt8](repeating: 0, count: 64)
                    let count = recv(fd, &buffer, buffer.count, 0)
                    if count > 0 && send(fd, buffer, count, Int32(MSG_NOSIGNAL)) == count { served += 1 }
                    close(fd)
                }
                return served
            }
        }
        try await space.server().run { api in
            let (proxy, _, _) = try await api.servingListener(port: port)
            let answers = await onOwnThread { () -> [String] in
                (0..<flows).map { index in
                    guard let fd = try? BlockingSocket.make(receiveTimeoutSeconds: 5) else { return "socket failed" }
                    defer { close(fd) }
                    guard BlockingSocket.dial(fd, host: proxy, port: port) == 0 else { return "connect: errno \(errno)" }
                    var buffer = [UInt8](repeating: 0, count: 64)
                    let greeting = recv(fd, &buffer, 11, Int32(MSG_WAITALL))
                    guard greeting == 11 else { return "greeting: \(greeting) bytes, errno \(errno)" }
                    let message = "hello \(index)"
                    _ = send(fd, message, message.utf8.count, Int32(MSG_NOSIGNAL))
                    let count = recv(fd, &buffer, buffer.count, Int32(MSG_WAITALL))
                    return String(decoding: buffer[0..<max(count, 0)], as: UTF8.self) + (count == message.utf8.count ? "" : " (\(count) bytes)")
                }
            }
            #expect(answers == (0..<flows).map { "hello \($0)" })
        }
        #expect(await endpoint.value == flows)
    }

    /// A client that half-closes first and reads slowly still gets every byte of a long answer before its end of
    /// stream: the proxy's half-close towards it waits for what is still queued. (When that side's input is already
    /// closed, an output close becomes a full close, which must not drop the queued tail.)
    @Test func aSlowReaderAfterAHalfCloseGetsTheWholeAnswer() async throws {
        let space = DataPlaneTestSpace(22)
        let size = 4 * 1024 * 1024
        let backend = try await AnswerOnEOF(host: "127.0.0.2", port: space.port, size: size)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, _, _) = try await api.servingListener(port: space.port)
            let port = space.port
            let received = try await NIOThreadPool.singleton.runIfActive { () throws -> [UInt8] in
                let fd = try BlockingSocket.make(receiveTimeoutSeconds: 10, receiveBuffer: 4096)
                defer { close(fd) }
                guard BlockingSocket.dial(fd, host: address, port: port) == 0 else { throw IOError(errnoCode: errno, reason: "connect") }
                _ = send(fd, "go", 2, Int32(MSG_NOSIGNAL))
                shutdown(fd, Int32(SHUT_WR))
                // Read slowly, in small pieces, so the proxy's side towards this client stays backed up.
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = recv(fd, &buffer, buffer.count, 0)
                    if count > 0 {
                        bytes += buffer[0..<count]
                        usleep(100)
                    } else if count == 0 {
                        return bytes
                    } else {
                        throw IOError(errnoCode: errno, reason: "recv after \(bytes.count) bytes")
                    }
                }
            }
            #expect(received.count == size, "\(received.count) of \(size) bytes before the end of stream")
            #expect(received == AnswerOnEOF.answer(size: size))
        }
    }

    /// Failover between endpoint groups on health: a local group with no healthy endpoint sends its flows to a
    /// remote group with one; both down fails open; the local group takes its flows back when it recovers.
    @Test func aDownLocalGroupFailsOverToAHealthyRemoteGroup() async throws {
        let space = DataPlaneTestSpace(17)
        let local = try await EchoBackend(host: "127.0.0.2", port: space.port)
        let remote = try await EchoBackend(host: "127.0.0.3", port: space.port)
        defer { Task { for backend in [local, remote] { try? await backend.stop() } } }
        let closedPort = freePort()
        try await space.server { $0.popRegion = "ap-southeast-1" }.run { api in
            let (address, listener, localGroup) = try await api.acceleratorWithListener(port: space.port, region: "ap-southeast-1")
            let remoteGroup = try await api.createEndpointGroup(listenerID: listener, region: "cn-east-3")
            let localEndpoint = try await api.addEndpoint(groupID: localGroup, ip: "127.0.0.2")
            let remoteEndpoint = try await api.addEndpoint(groupID: remoteGroup, ip: "127.0.0.3")
            // The checks probe a port of their own: a closed one makes the endpoint UNHEALTHY while its traffic
            // port still works, so the test sees routing decisions, not connect failures.
            func check(_ group: String, port: Int) async throws -> String {
                try await api.create(
                    "/v1/health-checks",
                    "health_check",
                    #"{"health_check": {"endpoint_group_id": "\#(group)", "protocol": "TCP", "port": \#(port), "interval": 1, "timeout": 1, "max_retries": 1, "enabled": true}}"#
                )["id"] as! String
            }
            let localCheck = try await check(localGroup, port: closedPort)
            let remoteCheck = try await check(remoteGroup, port: space.port)
            func health(_ group: String, _ endpoint: String, _ state: String) async throws {
                #expect(
                    try await api.waitFor("/v1/endpoint-groups/\(group)/endpoints/\(endpoint)", "endpoint") {
                        $0["health_state"] as? String == state
                    },
                    "\(endpoint) did not become \(state)"
                )
            }
            func destinations() async throws -> [String: Int] {
                var counts: [String: Int] = [:]
                for _ in 0..<20 { counts[Traffic.endpoint(of: try await Traffic.tcpRoundTrip(address, space.port)), default: 0] += 1 }
                return counts
            }
            try await health(localGroup, localEndpoint, "UNHEALTHY")
            try await health(remoteGroup, remoteEndpoint, "HEALTHY")
            #expect(try await destinations() == ["127.0.0.3": 20])
            // Both down: fail open to the weighted endpoints, by the traffic dial (all local).
            #expect(
                try await api.call(.put, "/v1/health-checks/\(remoteCheck)", #"{"health_check": {"port": \#(closedPort)}}"#).status == 200
            )
            try await health(remoteGroup, remoteEndpoint, "UNHEALTHY")
            #expect(try await destinations() == ["127.0.0.2": 20])
            // The remote group recovers first and takes the flows; then the local group recovers and takes them back.
            #expect(try await api.call(.put, "/v1/health-checks/\(remoteCheck)", #"{"health_check": {"port": \#(space.port)}}"#).status == 200)
            try await health(remoteGroup, remoteEndpoint, "HEALTHY")
            #expect(try await destinations() == ["127.0.0.3": 20])
            #expect(try await api.call(.put, "/v1/health-checks/\(localCheck)", #"{"health_check": {"port": \#(space.port)}}"#).status == 200)
            try await health(localGroup, localEndpoint, "HEALTHY")
            #expect(try await destinations() == ["127.0.0.2": 20])
        }
    }

    /// Traffic dial 0 on a listener's only group takes it out: a TCP connection is reset, a UDP datagram dropped,
    /// both counted and logged as `no_endpoint`.
    @Test func trafficDialZeroOnTheOnlyGroupServesNothing() async throws {
        let space = DataPlaneTestSpace(18)
        let backend = try await EchoBackend(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let tcp = try await api.acceleratorWithListener(port: space.port)
            let udp = try await api.acceleratorWithListener(port: space.port, protocol: "UDP")
            for (listener, group, stream) in [(tcp.listenerID, tcp.groupID, "tcp"), (udp.listenerID, udp.groupID, "udp")] {
                _ = try await api.addEndpoint(groupID: group, ip: "127.0.0.2")
                #expect(
                    try await api.call(.put, "/v1/endpoint-groups/\(group)", #"{"endpoint_group": {"traffic_dial_percentage": 0}}"#).status == 200
                )
                let logtank =
                    try await api.create(
                        "/v1/logtanks",
                        "logtank",
                        #"{"logtank": {"resource_type": "LISTENER", "resource_id": "\#(listener)", "log_group_id": "dial", "log_stream_id": "\#(stream)"}}"#
                    )["id"] as! String
                try await api.waitForStatus("/v1/logtanks/\(logtank)", "logtank", "ACTIVE")
                try await api.waitActive([("/v1/endpoint-groups/\(group)", "endpoint_group")])
                try await api.waitEndpointsActive(group)
            }
            let refused = try await ResettingBackend.exchange(host: tcp.address, port: space.port, command: "hello")
            #expect(refused == .reset(received: ""), "\(refused)")
            await #expect(throws: UDPTimeout.self) { _ = try await Traffic.udpRoundTrip(udp.address, space.port) }
            let tcpLog = try await AccessLogTests.records(api.dataDirectory, group: "dial", stream: "tcp", count: 1)
            #expect(tcpLog.first?["end"] as? String == "no_endpoint")
            let udpLog = try await AccessLogTests.records(api.dataDirectory, group: "dial", stream: "udp", count: 1)
            #expect(udpLog.first?["end"] as? String == "no_endpoint")
            let metrics = try await api.call(.get, "/metrics", auth: .anonymous).text
            #expect(metrics.contains(#"slipstream_listener_refused_total{listener_id="\#(tcp.listenerID)"} 1"#))
            #expect(metrics.contains(#"slipstream_listener_udp_dropped_datagrams_total{listener_id="\#(udp.listenerID)"} 3"#))
        }
    }

    /// UDP sessions are budgeted per listener over all its ports, and per process: datagrams beyond a budget are
    /// dropped and counted, and the API keeps answering.
    @Test func udpSessionsAreBudgetedPerListenerAndPerProcess() async throws {
        let space = DataPlaneTestSpace(19, ports: 4)
        let ports = (0..<4).map { space.port + $0 }
        var started: [RawUDPEcho] = []
        for port in ports { started.append(try await RawUDPEcho(host: "127.0.0.2", port: port)) }
        let backends = started
        defer { Task { for backend in backends { try? await backend.stop() } } }
        try await space.server {
            $0.udpMaxSessions = 5
            $0.udpMaxSessionsPerProcess = 8
        }.run { api in
            let first = try await api.servingListener(port: ports[0], protocol: "UDP", lastPort: ports[3])
            let second = try await api.servingListener(port: ports[0], protocol: "UDP", lastPort: ports[3])
            var clients: [DatagramClient] = []
            defer { for client in clients { client.close() } }
            /// Sends one datagram from each of `count` new clients, spread over the ports, and returns how many
            /// were answered once `expected` are (or after five seconds).
            func burst(_ address: String, count: Int, expected: Int) async throws -> Int {
                var burst: [DatagramClient] = []
                for index in 0..<count {
                    let client = try await DatagramClient.open()
                    burst.append(client)
                    try await client.send(ByteBuffer(string: "d\(index)"), to: try SocketAddress(ipAddress: address, port: ports[index % 4]))
                }
                clients += burst
                _ = try await eventually { burst.filter(\.hasReplies).count >= expected }
                return burst.filter(\.hasReplies).count
            }
            // 12 clients over the four ports of the first listener: 5 sessions, the rest dropped.
            #expect(try await burst(first.address, count: 12, expected: 5) == 5)
            // The second listener may open only 3 before the process budget of 8 is reached.
            #expect(try await burst(second.address, count: 6, expected: 3) == 3)
            #expect(try await api.call(.get, "/healthz", auth: .anonymous).status == 200)
            #expect(try await api.metricsShow(#"slipstream_listener_udp_dropped_datagrams_total{listener_id="\#(first.listenerID)"} 7"#))
            #expect(try await api.metricsShow(#"slipstream_listener_udp_dropped_datagrams_total{listener_id="\#(second.listenerID)"} 3"#))
        }
    }

    /// Datagrams the kernel drops because a listener socket's receive buffer is full are counted: every datagram a
    /// client sent is either carried to the endpoint or counted as dropped, by the kernel or by the PoP.
    @Test func datagramsDroppedForAFullListenerBufferAreCounted() async throws {
        let space = DataPlaneTestSpace(28, ports: 1)
        // The endpoint is a sink: it answers nothing, so only the listener's sockets receive.
        let sink = try await DatagramClient.open(host: "127.0.0.2", port: space.port)
        defer { sink.close() }
        try await space.server { $0.udpReceiveBufferBytes = 4_096 }.run { api in
            let (address, id, _) = try await api.servingListener(port: space.port, protocol: "UDP")
            let client = try await DatagramClient.open()
            defer { client.close() }
            let target = try SocketAddress(ipAddress: address, port: space.port)
            // 20 datagrams of 4,000 bytes (about 8.5 KiB each in kernel memory) fit the kernel's default buffer of
            // about 208 KiB; the 8 KiB it grants a 4,096-byte SO_RCVBUF holds one: drops show the setting took.
            let size = 4_000
            let burst = 20
            let (accounted, seen) = try await api.accountForDrops(listener: id, carried: "bytes_in_total", size: size, burst: burst) { count in
                try await client.sendBurst((0..<count).map { _ in ByteBuffer(repeating: 1, count: size) }, to: target)
                return count
            }
            #expect(accounted, "\(seen)")
        }
    }

    /// Datagrams the kernel drops because a session's endpoint socket is full are counted, for the listener and for
    /// the endpoint: every reply the endpoint sent is carried to the client or counted as dropped.
    @Test func repliesDroppedForAFullSessionBufferAreCounted() async throws {
        let space = DataPlaneTestSpace(29, ports: 1)
        let endpoint = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(endpoint) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(endpoint, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(BlockingSocket.withAddress("127.0.0.2", space.port) { bind(endpoint, $0, $1) } == 0)
        try await space.server { $0.udpReceiveBufferBytes = 4_096 }.run { api in
            let (address, id, groupID) = try await api.servingListener(port: space.port, protocol: "UDP")
            let endpoints = try await api.call(.get, "/v1/endpoint-groups/\(groupID)/endpoints").list("endpoints")
            let endpointID = endpoints.first?["id"] as? String ?? ""
            let client = try await DatagramClient.open()
            defer { client.close() }
            try await client.send(ByteBuffer(string: "hello"), to: try SocketAddress(ipAddress: address, port: space.port))
            // The endpoint learns the session's address from the first datagram and answers with a burst that the
            // default buffer would hold and an 8 KiB one cannot (as above).
            let size = 4_000
            let burst = 20
            let session = await onOwnThread { () -> sockaddr_in? in
                var buffer = [UInt8](repeating: 0, count: 8_192)
                var from = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let received = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(endpoint, &buffer, buffer.count, 0, $0, &length) }
                }
                return received > 0 ? from : nil
            }
            guard let session else {
                Issue.record("the endpoint received nothing")
                return
            }
            @Sendable func reply(_ count: Int) async -> Int {
                await onOwnThread {
                    var to = session
                    let payload = [UInt8](repeating: 3, count: size)
                    return (0..<count).filter { _ in
                        withUnsafePointer(to: &to) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                                sendto(endpoint, payload, size, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == size
                            }
                        }
                    }.count
                }
            }
            let (accounted, seen) = try await api.accountForDrops(listener: id, carried: "bytes_out_total", size: size, burst: burst) {
                await reply($0)
            }
            #expect(accounted, "\(seen)")
            // The session's socket belongs to the one endpoint: its drops are the endpoint's too.
            let forEndpoint = #"slipstream_endpoint_udp_receive_buffer_drops_total{endpoint_id="\#(endpointID)",listener_id="\#(id)"}"#
            let forListener = #"slipstream_listener_udp_receive_buffer_drops_total{listener_id="\#(id)"}"#
            #expect(try await api.metricValue(forEndpoint) == api.metricValue(forListener))
        }
    }

    /// A session budget holds when both flow loops admit new clients at the same moment: bursts of new clients from
    /// two threads at once open exactly the listener's budget of sessions, never one more per loop.
    @Test func udpSessionBudgetsHoldWhenLoopsAdmitAtOnce() async throws {
        let space = DataPlaneTestSpace(27, ports: 1)
        let backend = try await RawUDPEcho(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        let budget = 4
        let clients = 80
        try await space.server {
            $0.udpMaxSessions = budget
            $0.udpMaxSessionsPerProcess = 1000
        }.run { api in
            // Eight listeners, eight bursts: the old check-then-count admission overshot in about half the runs.
            for _ in 0..<8 {
                let listener = try await api.servingListener(port: space.port, protocol: "UDP")
                let address = listener.address
                let port = space.port
                // Two threads, each with its own sockets, fire one datagram per socket as fast as they can. Every
                // socket stays open until both have fired, so no two datagrams share a source port (one session).
                let sockets = UDPBurst.sockets(clients)
                defer { sockets.forEach { close($0) } }
                let halves = [Array(sockets[..<(clients / 2)]), Array(sockets[(clients / 2)...])]
                async let first = onOwnThread { [halves] in UDPBurst.fire(to: address, port: port, from: halves[0]) }
                async let second = onOwnThread { [halves] in UDPBurst.fire(to: address, port: port, from: halves[1]) }
                let sent = await first + second
                #expect(sent == clients)
                let id = listener.listenerID
                // Every datagram is either a session's first or dropped at the budget.
                var seen = ""
                let settled = try await eventually {
                    let opened = try await api.metricValue(#"slipstream_listener_connections_total{listener_id="\#(id)"}"#) ?? 0
                    let dropped = try await api.metricValue(#"slipstream_listener_udp_dropped_datagrams_total{listener_id="\#(id)"}"#) ?? 0
                    let kernel = try await api.metricValue(#"slipstream_listener_udp_receive_buffer_drops_total{listener_id="\#(id)"}"#) ?? 0
                    seen = "\(opened) opened, \(dropped) dropped, \(kernel) dropped by the kernel"
                    return opened + dropped == clients
                }
                #expect(settled, "\(seen) of \(clients)")
                #expect(try await api.metricValue(#"slipstream_listener_connections_total{listener_id="\#(id)"}"#) == budget)
                #expect(try await api.metricValue(#"slipstream_listener_active_connections{listener_id="\#(id)"}"#) == budget)
            }
        }
    }
}

extension API {
    /// Sends datagrams of `size` bytes with `send` (given how many, it returns how many left) until every one sent
    /// is carried by listener `id` (its `carried` byte counter, e.g. `bytes_in_total`) or counted as dropped, by the
    /// kernel or by the PoP, and the kernel has dropped some; within ten seconds. A loop that wakes at each datagram
    /// may keep pace with one burst, so it sends bursts of `burst` until the kernel drops, then one datagram per
    /// look: a socket reports its drops with the next datagram it queues. Returns whether the count came out, and
    /// what it saw last.
    func accountForDrops(
        listener id: String,
        carried: String,
        size: Int,
        burst: Int,
        send: (Int) async throws -> Int
    ) async throws -> (Bool, String) {
        var sent = 0
        var kernel = 0
        var seen = ""
        let accounted = try await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
            sent += try await send(kernel > 0 ? 1 : burst)
            let carried = (try await self.metricValue(#"slipstream_listener_\#(carried){listener_id="\#(id)"}"#) ?? 0) / size
            kernel = try await self.metricValue(#"slipstream_listener_udp_receive_buffer_drops_total{listener_id="\#(id)"}"#) ?? 0
            let dropped = try await self.metricValue(#"slipstream_listener_udp_dropped_datagrams_total{listener_id="\#(id)"}"#) ?? 0
            seen = "\(carried) carried, \(kernel) dropped by the kernel, \(dropped) by the PoP, of \(sent) sent"
            return kernel > 0 && carried + kernel + dropped == sent
        }
        return (accounted, seen)
    }
}

/// Blocking UDP sockets that each send one datagram.
enum UDPBurst {
    /// `count` UDP sockets bound to 127.0.0.1, each on its own port; the caller closes them.
    static func sockets(_ count: Int) -> [Int32] {
        (0..<count).map { _ in
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            _ = BlockingSocket.withAddress("127.0.0.1", 0) { address, length in bind(fd, address, length) }
            return fd
        }
    }

    /// Sends one datagram from each of `descriptors` to `address`:`port`, one right after the other; returns how
    /// many were sent.
    static func fire(to address: String, port: Int, from descriptors: [Int32]) -> Int {
        BlockingSocket.withAddress(address, port) { target, length in
            descriptors.filter { sendto($0, "hello", 5, 0, target, length) == 5 }.count
        }
    }
}

/// Runs `body` on a thread of its own and returns its result: for blocking socket calls that last long.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}
