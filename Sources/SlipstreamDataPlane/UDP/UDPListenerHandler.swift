import NIOCore
import NIOPosix

/// A UDP listener socket: each client address gets a session with its own connected socket to the chosen
/// endpoint; replies go back to the client from the listener's own address and port. Sessions end after an
/// idle timeout; the table is bounded, and a datagram that would need a session beyond the bound is dropped.
final class UDPListenerHandler {
    struct Limits: Sendable {
        var idleTimeout: TimeAmount
        var maxSessions: Int
        /// Datagrams held per session while its endpoint socket is being set up.
        var maxQueuedDatagrams: Int
    }

    private final class Session {
        let target: EndpointTarget
        let stats: FlowStats
        var log: FlowLog?
        var channel: (any Channel)?
        var queue: [ByteBuffer] = []
        var lastActivity: NIODeadline

        init(target: EndpointTarget, stats: FlowStats, now: NIODeadline) {
            self.target = target
            self.stats = stats
            self.lastActivity = now
        }
    }

    private let forwarding: ForwardingContext
    private let port: Int
    private let limits: Limits
    private var sessions: [SocketAddress: Session] = [:]
    private var sweeper: RepeatedTask?

    init(forwarding: ForwardingContext, port: Int, limits: Limits) {
        self.forwarding = forwarding
        self.port = port
        self.limits = limits
    }
}

extension UDPListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelActive(context: ChannelHandlerContext) {
        let interval = TimeAmount.nanoseconds(max(self.limits.idleTimeout.nanoseconds / 4, TimeAmount.milliseconds(100).nanoseconds))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.sweeper = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            handler.sweep(context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.sweeper?.cancel()
        for session in self.sessions.values { self.end(session, reason: "shutdown") }
        self.sessions.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let now = NIODeadline.now()
        if let session = self.sessions[client] {
            session.lastActivity = now
            self.send(envelope.data, on: session)
            return
        }
        let listenerStats = self.forwarding.listenerStats
        guard self.forwarding.router.admits(clientAddress: client.ipAddress ?? "") else {
            listenerStats.denied.wrappingIncrement(ordering: .relaxed)
            return
        }
        guard self.sessions.count < self.limits.maxSessions,
            let target = self.forwarding.router.choose(clientAddress: client.ipAddress ?? "").first
        else {
            listenerStats.refused.wrappingIncrement(ordering: .relaxed)
            return
        }
        let stats = self.forwarding.metrics.endpoint(target.endpointID, listenerID: self.forwarding.router.listenerID)
        let session = Session(target: target, stats: stats, now: now)
        session.log = FlowLog.start(self.forwarding, proto: "UDP", client: client, accelerator: context.channel.localAddress)
        self.sessions[client] = session
        listenerStats.opened()
        stats.opened()
        session.queue.append(envelope.data)
        let replyHandler = UDPReplyHandler(client: client, listener: context.channel, listenerStats: listenerStats, endpointStats: stats) { bytes in
            session.lastActivity = .now()
            session.log?.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
        }
        // The endpoint socket lives on this event loop, so the handler can be handed over loop-bound.
        let boundHandler = NIOLoopBound(replyHandler, eventLoop: context.eventLoop)
        DatagramBootstrap(group: context.eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(boundHandler.value) }
            }
            .connect(host: target.address, port: self.port)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard self.sessions[client] === session else {
                        channel.close(promise: nil)
                        return
                    }
                    session.channel = channel
                    for datagram in session.queue { self.send(datagram, on: session) }
                    session.queue.removeAll()
                case .failure:
                    stats.connectFailures.wrappingIncrement(ordering: .relaxed)
                    if self.sessions[client] === session {
                        self.sessions[client] = nil
                        self.end(session, reason: "connect_failed")
                    }
                }
            }
    }

    private func send(_ datagram: ByteBuffer, on session: Session) {
        guard let channel = session.channel else {
            if session.queue.count < self.limits.maxQueuedDatagrams { session.queue.append(datagram) }
            return
        }
        session.stats.bytesIn.wrappingIncrement(by: datagram.readableBytes, ordering: .relaxed)
        session.log?.bytesIn.wrappingIncrement(by: datagram.readableBytes, ordering: .relaxed)
        self.forwarding.listenerStats.bytesIn.wrappingIncrement(by: datagram.readableBytes, ordering: .relaxed)
        channel.writeAndFlush(datagram, promise: nil)
    }

    private func sweep(context: ChannelHandlerContext) {
        let cutoff = NIODeadline.now() - self.limits.idleTimeout
        for (client, session) in self.sessions {
            if session.lastActivity < cutoff {
                self.sessions[client] = nil
                self.end(session, reason: "idle_timeout")
            }
        }
    }

    private func end(_ session: Session, reason: String) {
        session.log?.finish(endpoint: session.target, end: reason)
        session.channel?.close(promise: nil)
        session.channel = nil
        session.stats.closed()
        self.forwarding.listenerStats.closed()
    }
}

/// On a session's endpoint socket: relays each reply to the client through the listener socket.
final class UDPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let client: SocketAddress
    private let listener: any Channel
    private let listenerStats: FlowStats
    private let endpointStats: FlowStats
    /// Told the size of every reply.
    private let touch: (Int) -> Void

    init(client: SocketAddress, listener: any Channel, listenerStats: FlowStats, endpointStats: FlowStats, touch: @escaping (Int) -> Void) {
        self.client = client
        self.listener = listener
        self.listenerStats = listenerStats
        self.endpointStats = endpointStats
        self.touch = touch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        self.touch(envelope.data.readableBytes)
        self.listenerStats.bytesOut.wrappingIncrement(by: envelope.data.readableBytes, ordering: .relaxed)
        self.endpointStats.bytesOut.wrappingIncrement(by: envelope.data.readableBytes, ordering: .relaxed)
        self.listener.writeAndFlush(AddressedEnvelope(remoteAddress: self.client, data: envelope.data), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (the endpoint port is closed) arrive here; the session lives on until it idles out.
    }
}
