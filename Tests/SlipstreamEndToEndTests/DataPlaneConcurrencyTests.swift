import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import SlipstreamTestSupport

/// Many flows at once, with clients and endpoints that leave at awkward moments: every byte of a finished flow
/// arrives, and every flow is accounted for and closed afterwards.
@Suite struct DataPlaneConcurrencyTests {
    /// What one client does.
    enum Behaviour: CaseIterable {
        /// Sends a payload, half-closes, reads the echo to the end.
        case echo
        /// Closes right after connecting.
        case closeAtOnce
        /// Sends part of a payload and resets.
        case reset
    }

    /// A deterministic generator, so a failing mix can be replayed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func aHundredClientsAtOnceWithEarlyClosesAndResets() async throws {
        let space = DataPlaneTestSpace(20)
        let backend = try await RawTCPEcho(host: "127.0.0.2", port: space.port)
        defer { Task { try? await backend.stop() } }
        try await space.server().run { api in
            let (address, listener, _) = try await api.servingListener(port: space.port)
            var random = SplitMix(state: 20_261_130)
            let plans = (0..<100).map { _ in
                (Behaviour.allCases.randomElement(using: &random)!, Int.random(in: 1...65_536, using: &random))
            }
            let results = try await withThrowingTaskGroup(of: (Behaviour, Int, Int).self) { tasks in
                for (behaviour, size) in plans {
                    tasks.addTask { (behaviour, size, try await Self.run(behaviour, size: size, host: address, port: space.port)) }
                }
                var all: [(Behaviour, Int, Int)] = []
                for try await result in tasks { all.append(result) }
                return all
            }
            for (behaviour, size, echoed) in results where behaviour == .echo {
                #expect(echoed == size, "an echo flow of \(size) bytes got \(echoed) back")
            }
            let echoFlows = results.filter { $0.0 == .echo }.count
            #expect(echoFlows > 20)
            #expect(try await api.activeFlowsReachZero(listener))
        }
    }

    /// Clients that close or reset while their flow's endpoint connection is still being made, and endpoints that
    /// close as soon as they accept: no flow is left open and the PoP keeps serving.
    @Test func connectAndCloseRaces() async throws {
        let space = DataPlaneTestSpace(21)
        let echo = try await RawTCPEcho(host: "127.0.0.2", port: space.port)
        let closer = try await RawTCPEcho(host: "127.0.0.3", port: space.port, closeOnAccept: true)
        defer { Task { for backend in [echo, closer] { try? await backend.stop() } } }
        try await space.server().run { api in
            let serving = try await api.servingListener(port: space.port)
            let closing = try await api.servingListener(port: space.port, endpoints: [("127.0.0.3", 1)])
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for index in 0..<200 {
                    tasks.addTask {
                        let target = index % 2 == 0 ? serving.address : closing.address
                        _ = try? await Self.run(index % 4 < 2 ? .closeAtOnce : .reset, size: 1024, host: target, port: space.port)
                    }
                }
                try await tasks.waitForAll()
            }
            #expect(try await api.activeFlowsReachZero(serving.listenerID))
            #expect(try await api.activeFlowsReachZero(closing.listenerID))
            // Still serving.
            #expect(try await Self.run(.echo, size: 10_000, host: serving.address, port: space.port) == 10_000)
        }
    }

    /// Runs one client; returns how many bytes were echoed back (0 for clients that leave early).
    static func run(_ behaviour: Behaviour, size: Int, host: String, port: Int) async throws -> Int {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
        let payload = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        switch behaviour {
        case .closeAtOnce:
            try await channel.channel.close()
            return 0
        case .reset:
            try? await channel.channel.writeAndFlush(payload.getSlice(at: 0, length: size / 2) ?? payload)
            if let provider = channel.channel as? any SocketOptionProvider {
                try? await provider.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0)).get()
            }
            try? await channel.channel.close()
            return 0
        case .echo:
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(payload)
                outbound.finish()
                var echoed = ByteBuffer()
                for try await buffer in inbound { echoed.writeImmutableBuffer(buffer) }
                return echoed == payload ? echoed.readableBytes : -echoed.readableBytes
            }
        }
    }
}

extension API {
    /// Whether the listener's open-flow gauge reaches 0 within ten seconds.
    func activeFlowsReachZero(_ listenerID: String) async throws -> Bool {
        try await self.metricsShow(#"slipstream_listener_active_connections{listener_id="\#(listenerID)"} 0"#)
    }

    /// Whether `/metrics` shows `line` (a whole sample line) within ten seconds.
    func metricsShow(_ line: String) async throws -> Bool {
        try await eventually(timeout: .seconds(10), every: .milliseconds(50)) {
            try await self.call(.get, "/metrics", auth: .anonymous).text.split(separator: "\n").contains(Substring(line))
        }
    }

    /// The value `/metrics` shows now for `series` (a metric name with its labels), or nil when it has none.
    func metricValue(_ series: String) async throws -> Int? {
        metricSample(try await self.call(.get, "/metrics", auth: .anonymous).text, series).map { Int($0) }
    }
}

/// A TCP echo server that sends back exactly the bytes it reads and closes once the client has finished and
/// everything is written; with `closeOnAccept` it closes every connection as soon as it is accepted.
final class RawTCPEcho: Sendable {
    private let channel: any Channel

    init(host: String, port: Int, closeOnAccept: Bool = false) async throws {
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 512)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                if closeOnAccept { return channel.close() }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
            }
            .bind(host: host, port: port).get()
    }

    func stop() async throws { try await self.channel.close() }

    private final class Echo: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(data, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, case .inputClosed = event {
                let channel = context.channel
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).whenComplete { _ in channel.close(promise: nil) }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
