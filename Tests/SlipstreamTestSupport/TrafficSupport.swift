import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SlipstreamAPI
import SlipstreamModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP and UDP echo server on one loopback address and port that prefixes every reply with its own address,
/// so a test can tell which endpoint a flow reached.
final class EchoBackend: Sendable {
    let host: String
    let port: Int
    /// Answer `<host>:eof` when a client half-closes, instead of just closing.
    let replyOnEOF: Bool
    private let channels: NIOLockedValueBox<[any Channel]>

    init(host: String, port: Int, replyOnEOF: Bool = false) async throws {
        self.host = host
        self.port = port
        self.replyOnEOF = replyOnEOF
        self.channels = NIOLockedValueBox([])
        try await self.start()
    }

    func start() async throws {
        let tag = self.host
        let replyOnEOF = self.replyOnEOF
        let tcp = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPEchoHandler(tag: tag, replyOnEOF: replyOnEOF))
                }
            }
            .bind(host: self.host, port: self.port).get()
        let udp = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(UDPEchoHandler(tag: tag)) }
            }
            .bind(host: self.host, port: self.port).get()
        self.channels.withLockedValue { $0 = [tcp, udp] }
    }

    /// Stops listening (open connections stay).
    func stop() async throws {
        for channel in self.channels.withLockedValue({ $0 }) { try await channel.close() }
    }
}

private final class TCPEchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let tag: String
    let replyOnEOF: Bool

    init(tag: String, replyOnEOF: Bool) {
        self.tag = tag
        self.replyOnEOF = replyOnEOF
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var reply = ByteBuffer(string: "\(self.tag):")
        var input = self.unwrapInboundIn(data)
        reply.writeBuffer(&input)
        context.writeAndFlush(self.wrapOutboundOut(reply), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client finished sending: finish too, optionally with a last answer.
        if let event = event as? ChannelEvent, case .inputClosed = event {
            if self.replyOnEOF {
                context.write(self.wrapOutboundOut(ByteBuffer(string: "\(self.tag):eof")), promise: nil)
            }
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

private final class UDPEchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let tag: String

    init(tag: String) { self.tag = tag }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        var reply = ByteBuffer(string: "\(self.tag):")
        var input = envelope.data
        reply.writeBuffer(&input)
        context.writeAndFlush(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
    }
}

/// Fulfils a promise with the first bytes a connection receives and keeps everything it receives.
final class FirstReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let reply: EventLoopPromise<String>
    let received = NIOLockedValueBox("")

    init(reply: EventLoopPromise<String>) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: self.unwrapInboundIn(data))
        self.received.withLockedValue { $0 += text }
        self.reply.succeed(text)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.reply.succeed("")
    }
}

/// Clients that talk through an accelerator.
enum Traffic {
    /// Opens a connection (optionally from `source`), sends `payload`, returns the first reply.
    static func tcpRoundTrip(_ host: String, _ port: Int, payload: String = "hi", from source: String? = nil) async throws -> String {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.seconds(2))
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        let channel = try await bootstrap.connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: payload))
            for try await buffer in inbound {
                return String(buffer: buffer)
            }
            return ""
        }
    }

    /// Whether a connection from `source` is closed without an answer (or cannot be made at all).
    static func isRefused(_ host: String, _ port: Int, from source: String) async -> Bool {
        guard let reply = try? await self.tcpRoundTrip(host, port, from: source) else { return true }
        return reply.isEmpty
    }

    /// Opens a connection, sends `payload` and returns the still-open channel with the first reply.
    static func openConnection(_ host: String, _ port: Int, payload: String) async throws -> (any Channel, String) {
        let reply = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FirstReplyHandler(reply: reply)) }
            }
            .connect(host: host, port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: payload))
        return (channel, try await reply.futureResult.get())
    }

    /// The endpoint (its address) that answered a round trip.
    static func endpoint(of reply: String) -> String {
        String(reply.split(separator: ":").first ?? "")
    }

    /// Sends a datagram and returns the reply and its sender; UDP may lose datagrams, so it tries three times,
    /// waiting a second for each reply.
    static func udpRoundTrip(_ host: String, _ port: Int, payload: String = "ping") async throws -> (reply: String, from: String) {
        let reply = NIOLockedValueBox<(String, String)?>(nil)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramReplyHandler(reply: reply)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { channel.close(promise: nil) }
        let target = try SocketAddress(ipAddress: host, port: port)
        for _ in 0..<3 {
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(string: payload)))
            if let result = try await poll(timeout: .seconds(1), { reply.withLockedValue { $0 } }) { return result }
        }
        throw UDPTimeout()
    }
}

struct UDPTimeout: Error {}

struct DeadlineExceeded: Error {}

/// Runs `body`, failing with ``DeadlineExceeded`` when it takes longer than `seconds`.
func withDeadline<T: Sendable>(seconds: Int, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw DeadlineExceeded()
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}

/// Fulfils a promise with the first datagram a socket receives and its sender.
private final class DatagramReplyHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let reply: NIOLockedValueBox<(String, String)?>

    init(reply: NIOLockedValueBox<(String, String)?>) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        let result = (String(buffer: envelope.data), "\(envelope.remoteAddress.ipAddress ?? ""):\(envelope.remoteAddress.port ?? 0)")
        self.reply.withLockedValue { $0 = $0 ?? result }
    }
}

/// Each data-plane test gets its own accelerator pool and port range, so tests can run side by side.
struct DataPlaneTestSpace: Sendable {
    let pool: CIDR
    let port: Int

    /// - Parameter ports: how many consecutive free ports, starting at `port`, the test may use.
    init(_ index: Int, ports: Int = 2) {
        self.pool = CIDR("127.11.\(index).0/24")!
        self.port = freePort(span: ports)
    }

    func server(_ adjust: @escaping (inout SlipstreamConfiguration) -> Void = { _ in }) -> TestServer {
        TestServer { configuration in
            configuration.dataPlaneEnabled = true
            configuration.pools["OUTOFCM/IPV4"] = [self.pool]
            configuration.connectTimeoutMilliseconds = 500
            adjust(&configuration)
        }
    }
}

extension API {
    /// Waits until `condition` holds for the JSON object under `key` at `uri`, up to `seconds`.
    func waitFor(_ uri: String, _ key: String, seconds: Double = 10, _ condition: @escaping ([String: Any]) -> Bool) async throws -> Bool {
        try await eventually(timeout: .milliseconds(Int(seconds * 1000)), every: .milliseconds(50)) {
            condition(try await self.call(.get, uri).object(key))
        }
    }

    /// An accelerator with one listener and one group, ACTIVE; returns (address, listener id, group id).
    func acceleratorWithListener(
        port: Int,
        protocol proto: String = "TCP",
        affinity: String = "NONE",
        region: String = "ap-southeast-1",
        lastPort: Int? = nil
    ) async throws -> (address: String, listenerID: String, groupID: String) {
        let accelerator = try await self.create(
            "/v1/accelerators",
            "accelerator",
            #"{"accelerator": {"name": "dp", "enterprise_project_id": "0", "ip_sets": [{"ip_type": "IPV4", "area": "OUTOFCM"}]}}"#
        )
        let address = try #require((accelerator["ip_sets"] as? [[String: Any]])?.first?["ip_address"] as? String)
        let listener = try await self.create(
            "/v1/listeners",
            "listener",
            #"{"listener": {"name": "dp", "protocol": "\#(proto)", "client_affinity": "\#(affinity)", "accelerator_id": "\#(accelerator["id"] as! String)", "port_ranges": [{"from_port": \#(port), "to_port": \#(lastPort ?? port)}]}}"#
        )
        let listenerID = listener["id"] as! String
        let groupID = try await self.createEndpointGroup(listenerID: listenerID, region: region)
        return (address, listenerID, groupID)
    }

    /// An accelerator and a listener whose one group holds an endpoint per address of `endpoints`, all applied by
    /// the PoP; returns (address, listener id, group id).
    func servingListener(
        port: Int,
        protocol proto: String = "TCP",
        lastPort: Int? = nil,
        endpoints: [(ip: String, weight: Int)] = [("127.0.0.2", 1)]
    ) async throws -> (address: String, listenerID: String, groupID: String) {
        let created = try await self.acceleratorWithListener(port: port, protocol: proto, lastPort: lastPort)
        for endpoint in endpoints { _ = try await self.addEndpoint(groupID: created.groupID, ip: endpoint.ip, weight: endpoint.weight) }
        try await self.waitActive([("/v1/listeners/\(created.listenerID)", "listener")])
        try await self.waitEndpointsActive(created.groupID)
        return created
    }

    func addEndpoint(groupID: String, ip: String, weight: Int = 1) async throws -> String {
        let body = #"{"endpoint": {"resource_id": "\#(ip)", "resource_type": "CUSTOM_IP", "ip_address": "\#(ip)", "weight": \#(weight)}}"#
        return try await self.create("/v1/endpoint-groups/\(groupID)/endpoints", "endpoint", body)["id"] as! String
    }

    /// Waits until the group exists in the PoP with all its endpoints (every endpoint ACTIVE).
    func waitEndpointsActive(_ groupID: String) async throws {
        let active = try await eventually(timeout: .seconds(10), every: .milliseconds(50)) {
            let endpoints = try await self.call(.get, "/v1/endpoint-groups/\(groupID)/endpoints").list("endpoints")
            return !endpoints.isEmpty && endpoints.allSatisfy({ $0["status"] as? String == "ACTIVE" })
        }
        if !active { Issue.record("endpoints of \(groupID) did not become ACTIVE") }
    }

    /// Waits until every listed resource is ACTIVE (the PoP applied it).
    func waitActive(_ uris: [(String, String)]) async throws {
        for (uri, key) in uris {
            #expect(try await self.waitFor(uri, key) { $0["status"] as? String == "ACTIVE" }, "\(uri) did not become ACTIVE")
        }
    }
}

/// The value of the sample of `series` (name and labels, as `/metrics` writes them) in `metrics`, or nil when there
/// is no such sample. `# HELP`/`# TYPE` lines do not count: they are written even for a counter without samples.
func metricSample(_ metrics: String, _ series: String) -> Double? {
    for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

/// Ports `freePort` has handed out in this test process: two tests that run at once may find the same port free,
/// so none is handed out twice.
private let portsHandedOut = NIOLockedValueBox<Set<Int>>([])

/// The first port of the kernel's ephemeral range (`net.ipv4.ip_local_port_range`; Linux's default is 32768).
private let ephemeralPortsStart: Int = {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    return range.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
}()

/// A port below the kernel's ephemeral range that nothing on this host holds for TCP or UDP now, with the
/// `span - 1` ports after it free too, and that no other test of this process was given. Tests bind them on their
/// own loopback addresses. Below the ephemeral range no outgoing connection takes the port, so the thousands of
/// connections a test run leaves in TIME_WAIT never crowd it out.
func freePort(span: Int = 1) -> Int {
    func free(_ port: Int) -> Bool {
        [Int32(SOCK_STREAM.rawValue), Int32(SOCK_DGRAM.rawValue)].allSatisfy { type in
            let fd = socket(AF_INET, type, 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            // As the listeners the tests start do: connections in TIME_WAIT on the port don't hold it.
            var one: Int32 = 1
            if type == Int32(SOCK_STREAM.rawValue) { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
            return BlockingSocket.withAddress("127.0.0.1", port) { bind(fd, $0, $1) } == 0
        }
    }
    let span = max(1, span)
    let last = max(10_001, min(ephemeralPortsStart, 65_536) - span)
    for _ in 0..<200 {
        let port = Int.random(in: 10_000..<last)
        let ports = Set(port..<port + span)
        guard ports.allSatisfy(free) else { continue }
        let fresh = portsHandedOut.withLockedValue { handedOut in
            guard handedOut.isDisjoint(with: ports) else { return false }
            handedOut.formUnion(ports)
            return true
        }
        if fresh { return port }
    }
    Issue.record("no free port found")
    return 0
}
