import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

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

/// A UDP backend that holds each source's datagrams until it has `burst` of them, then echoes them all at once
/// (written together, flushed once), so the replies wait together in the proxy's session socket.
final class BurstUDPEcho: Sendable {
    private let channel: any Channel

    init(host: String, port: Int, burst: Int) async throws {
        self.channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Holder(burst: burst)) }
            }
            .bind(host: host, port: port).get()
    }

    func stop() async throws { try await self.channel.close() }

    private final class Holder: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let burst: Int
        var held: [SocketAddress: [AddressedEnvelope<ByteBuffer>]] = [:]

        init(burst: Int) { self.burst = burst }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = self.unwrapInboundIn(data)
            self.held[envelope.remoteAddress, default: []].append(envelope)
            guard let waiting = self.held[envelope.remoteAddress], waiting.count >= self.burst else { return }
            self.held[envelope.remoteAddress] = nil
            for datagram in waiting { context.write(self.wrapOutboundOut(datagram), promise: nil) }
            context.flush()
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

    /// A datagram socket bound to `host`:`port` (port 0: a free one) that keeps what it receives and answers
    /// nothing; as an endpoint it is a sink.
    static func open(host: String = "127.0.0.1", port: Int = 0) async throws -> DatagramClient {
        let replies = NIOLockedValueBox<[ByteBuffer]>([])
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(replies: replies)) }
            }
            .bind(host: host, port: port).get()
        return DatagramClient(channel: channel, replies: replies)
    }

    func send(_ payload: ByteBuffer, to target: SocketAddress) async throws {
        try await self.channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: payload))
    }

    /// Writes every payload to `target`, then flushes once, so they leave together.
    func sendBurst(_ payloads: [ByteBuffer], to target: SocketAddress) async throws {
        let writes = payloads.map { self.channel.write(AddressedEnvelope(remoteAddress: target, data: $0)) }
        self.channel.flush()
        for write in writes { try await write.get() }
    }

    /// The replies received so far, in arrival order.
    var received: [ByteBuffer] { self.replies.withLockedValue { $0 } }

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

    /// The IPv4 socket address `host:port`.
    static func ipv4(_ host: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }

    /// Calls `body` with the IPv4 socket address `host:port` as a `sockaddr` and its length.
    static func withAddress<T>(_ host: String, _ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = Self.ipv4(host, port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Connects `fd` to the IPv4 `host:port` (`connect(2)`): 0, or -1 with `errno` set.
    static func dial(_ fd: Int32, host: String, port: Int) -> Int32 {
        Self.withAddress(host, port) { connect(fd, $0, $1) }
    }

    /// A TCP socket listening on the IPv4 `host:port` (`SO_REUSEADDR`) with `backlog`, or -1 with `errno` set.
    static func listening(host: String, port: Int, backlog: Int32) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard Self.withAddress(host, port, { bind(fd, $0, $1) }) == 0, listen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            errno = code
            return -1
        }
        return fd
    }
}
