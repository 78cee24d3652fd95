import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

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
}

/// A UDP echo server that sends back exactly the bytes it received, reading datagrams of any size.
final class RawUDPEcho: Sendable {
    private let channel: any Channel

    init(host: String, port: Int) async throws {
        self.channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: host, port: port).get()
    }

    func stop() async throws { try await self.channel.close() }

    private final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(data, promise: nil)
        }
    }
}

/// A client UDP socket on 127.0.0.1 that reads datagrams of any size and keeps its replies for the test.
final class DatagramClient: Sendable {
    private let channel: any Channel
    private let replies: NIOLockedValueBox<[ByteBuffer]>

    private init(channel: any Channel, replies: NIOLockedValueBox<[ByteBuffer]>) {
        self.channel = channel
        self.replies = replies
    }

    static func open() async throws -> DatagramClient {
        let replies = NIOLockedValueBox<[ByteBuffer]>([])
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(replies: replies)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DatagramClient(channel: channel, replies: replies)
    }

    func send(_ payload: ByteBuffer, to target: SocketAddress) async throws {
        try await self.channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: payload))
    }

    /// Sends `payload` and returns the first reply within `wait`, or nil.
    func roundTrip(_ payload: ByteBuffer, to target: SocketAddress, wait: Duration = .seconds(2)) async throws -> ByteBuffer? {
        self.replies.withLockedValue { $0.removeAll() }
        try await self.send(payload, to: target)
        return try await poll(timeout: wait, every: .milliseconds(10)) { self.replies.withLockedValue { $0.first } }
    }

    func close() { self.channel.close(promise: nil) }

    /// Whether any reply has arrived.
    var hasReplies: Bool { self.replies.withLockedValue { !$0.isEmpty } }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let replies: NIOLockedValueBox<[ByteBuffer]>

        init(replies: NIOLockedValueBox<[ByteBuffer]>) { self.replies = replies }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = self.unwrapInboundIn(data)
            self.replies.withLockedValue { $0.append(envelope.data) }
        }
    }
}

/// A TCP backend that acts on the first line it reads: `partial-then-reset` writes "partial" and resets,
/// `partial-then-close` writes "partial" and closes. It records how each connection ended (`reset` or `eof`).
final class ResettingBackend: Sendable {
    /// How a client's connection ended and what it had received.
    enum Ending: Equatable, Sendable {
        case closed(received: String)
        case reset(received: String)

        var isReset: Bool {
            if case .reset = self { return true }
            return false
        }
    }

    private let channel: any Channel
    private let endings: NIOLockedValueBox<[String]>
    /// `hold` lines received so far, over all connections.
    private let holds: NIOLockedValueBox<Int>

    init(host: String, port: Int) async throws {
        let endings = NIOLockedValueBox<[String]>([])
        let holds = NIOLockedValueBox(0)
        self.endings = endings
        self.holds = holds
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(endings: endings, holds: holds)) }
            }
            .bind(host: host, port: port).get()
    }

    func stop() async throws { try await self.channel.close() }

    /// How the next connection to finish ended, waiting up to five seconds.
    func nextEnding() async throws -> String? {
        try await poll { self.endings.withLockedValue { $0.isEmpty ? nil : $0.removeFirst() } }
    }

    /// Connects, sends `command` and reads until the connection ends, with a plain blocking socket so the result
    /// is exactly what the kernel reports: end of stream, or ECONNRESET (at connect, write or read). The blocking
    /// calls run on NIO's thread pool, never on a Swift concurrency thread, so they cannot stall other tests.
    static func exchange(host: String, port: Int, command: String) async throws -> Ending {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = try BlockingSocket.make(receiveTimeoutSeconds: 5)
            defer { close(fd) }
            guard BlockingSocket.dial(fd, host: host, port: port) == 0 else {
                if errno == ECONNRESET { return .reset(received: "") }
                throw IOError(errnoCode: errno, reason: "connect")
            }
            var received = ""
            let bytes = Array(command.utf8)
            if send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) < 0 {
                if errno == ECONNRESET || errno == EPIPE { return .reset(received: "") }
                throw IOError(errnoCode: errno, reason: "send")
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 {
                    received += String(decoding: buffer[0..<count], as: UTF8.self)
                } else if count == 0 {
                    return .closed(received: received)
                } else if errno == ECONNRESET {
                    return .reset(received: received)
                } else {
                    throw IOError(errnoCode: errno, reason: "recv (still open after 5 s?)")
                }
            }
        }
    }

    /// Connects to `host:port` (the proxy in front of this backend), sends a line and waits until it arrived here.
    private func connectAndHold(host: String, port: Int) async throws -> any Channel {
        let before = self.holds.withLockedValue { $0 }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: "hold"))
        #expect(try await eventually { self.holds.withLockedValue { $0 } > before }, "the line did not reach the backend")
        return channel
    }

    /// Connects through `host:port`, sends a line and, once it arrived, aborts the connection (RST).
    func clientResets(host: String, port: Int) async throws {
        let channel = try await self.connectAndHold(host: host, port: port)
        let provider = try #require(channel as? any SocketOptionProvider)
        try await provider.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0)).get()
        try await channel.close()
    }

    /// Connects through `host:port`, sends a line and, once it arrived, closes normally (FIN).
    func clientCloses(host: String, port: Int) async throws {
        let channel = try await self.connectAndHold(host: host, port: port)
        try await channel.close()
    }

    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let endings: NIOLockedValueBox<[String]>

        let holds: NIOLockedValueBox<Int>

        init(endings: NIOLockedValueBox<[String]>, holds: NIOLockedValueBox<Int>) {
            self.endings = endings
            self.holds = holds
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let command = String(buffer: self.unwrapInboundIn(data))
            if command == "hold" { self.holds.withLockedValue { $0 += 1 } }
            guard command.hasPrefix("partial") else { return }
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: "partial"))).whenComplete { _ in
                guard command == "partial-then-reset", let provider = channel as? any SocketOptionProvider else {
                    channel.close(promise: nil)
                    return
                }
                provider.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event {
                self.endings.withLockedValue { $0.append("eof") }
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            let reset = (error as? IOError)?.errnoCode == ECONNRESET
            self.endings.withLockedValue { $0.append(reset ? "reset" : "error: \(error)") }
            context.close(promise: nil)
        }
    }
}

/// A TCP backend that waits for the client's end of stream, then answers `size` bytes of a fixed pattern and closes.
final class AnswerOnEOF: Sendable {
    private let channel: any Channel

    static func answer(size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) } }

    init(host: String, port: Int, size: Int) async throws {
        let answer = Self.answer(size: size)
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(answer: answer)) }
            }
            .bind(host: host, port: port).get()
    }

    func stop() async throws { try await self.channel.close() }

    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: [UInt8]

        init(answer: [UInt8]) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event {
                let channel = context.channel
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: self.answer))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}

/// Plain blocking TCP sockets for tests that need exactly what the kernel reports (an end of stream, ECONNRESET)
/// or a receive buffer of their own. Use them on NIO's thread pool, never on a Swift concurrency thread.
enum BlockingSocket {
    /// A new TCP socket whose reads fail after `receiveTimeoutSeconds`, with a receive buffer of
    /// `receiveBuffer` bytes when given. - Throws: `IOError` when no socket can be made.
    static func make(receiveTimeoutSeconds: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Connects `fd` to the IPv4 `host:port` (`connect(2)`): 0, or -1 with `errno` set.
    static func dial(_ fd: Int32, host: String, port: Int) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
