import NIOCore
import NIOPosix
import SlipstreamModel

/// Every datagram socket of the data plane reads into buffers of this size, so any IPv4 datagram (at most
/// 65,507 bytes of payload) and any IPv6 datagram without jumbo options arrives whole.
let datagramBufferSize = 65_536

/// A UDP listener socket: each client address gets a session with its own connected socket to the chosen
/// endpoint; replies go back to the client from the listener's own address and port.
///
/// A session ends after the idle timeout, when its endpoint socket fails (an ICMP error such as port
/// unreachable, a failed write; the client's next datagram opens a fresh session), or when the listener closes.
/// Sessions are budgeted per listener and per process; a datagram that would need a session beyond either budget
/// is dropped and counted.
final class UDPListenerHandler {
    private final class Session {
        let endpoint: PlannedEndpoint
        var log: FlowLog?
        var channel: (any Channel)?
        var queue: [ByteBuffer] = []
        var lastActivity: NIODeadline
        var ended = false

        init(endpoint: PlannedEndpoint, now: NIODeadline) {
            self.endpoint = endpoint
            self.lastActivity = now
        }
    }

    private let forwarding: ForwardingContext
    private let port: Int
    private var sessions: [SocketAddress: Session] = [:]
    private var sweeper: RepeatedTask?

    init(forwarding: ForwardingContext, port: Int) {
        self.forwarding = forwarding
        self.port = port
    }
}

extension UDPListenerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    func channelActive(context: ChannelHandlerContext) {
        let idle = self.forwarding.udp.idleTimeout
        let interval = TimeAmount.nanoseconds(max(idle.nanoseconds / 4, TimeAmount.milliseconds(100).nanoseconds))
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
        let runtime = self.forwarding.runtime
        let limits = self.forwarding.udp
        let clientAddress = IPAddress(client)
        let plan = runtime.current
        let admission = UDPSessionAdmission.decide(
            admitted: plan.admits(clientAddress),
            routable: plan.isRoutable,
            listenerSessions: runtime.udpSessions.load(ordering: .relaxed),
            maxPerListener: limits.maxSessionsPerListener,
            processSessions: limits.processSessions.load(ordering: .relaxed),
            maxPerProcess: limits.maxSessionsPerProcess
        )
        let stats = runtime.stats
        switch admission {
        case .open:
            break
        case .denied:
            stats.denied.wrappingIncrement(ordering: .relaxed)
            return
        case .noEndpoint:
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            stats.refused.wrappingIncrement(ordering: .relaxed)
            FlowLog.start(self.forwarding, plan: plan, proto: .udp, client: client, accelerator: context.channel.localAddress)?
                .finish(endpoint: nil, end: FlowRefusal.noEndpoint.rawValue)
            return
        case .listenerBudget, .processBudget:
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            stats.refused.wrappingIncrement(ordering: .relaxed)
            return
        }
        let targets = runtime.choose(in: plan, client: clientAddress, on: context.eventLoop)
        guard let target = targets.first, let base = plan.groups[target.group].endpoints[target.endpoint].address else {
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            stats.refused.wrappingIncrement(ordering: .relaxed)
            return
        }
        let endpoint = plan.groups[target.group].endpoints[target.endpoint]
        let session = Session(endpoint: endpoint, now: now)
        session.log = FlowLog.start(self.forwarding, plan: plan, proto: .udp, client: client, accelerator: context.channel.localAddress)
        self.sessions[client] = session
        runtime.udpSessions.wrappingIncrement(ordering: .relaxed)
        limits.processSessions.wrappingIncrement(ordering: .relaxed)
        stats.opened()
        endpoint.stats.opened()
        session.queue.append(envelope.data)
        let loopBound = NIOLoopBound((self, session), eventLoop: context.eventLoop)
        let replyHandler = UDPReplyHandler(
            client: client,
            listener: context.channel,
            listenerStats: stats,
            endpointStats: endpoint.stats,
            onReply: { bytes in
                let session = loopBound.value.1
                session.lastActivity = .now()
                session.log?.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
            },
            onError: {
                let (handler, session) = loopBound.value
                handler.fail(session, client: client)
            }
        )
        // The endpoint socket lives on this event loop, so the handler can be handed over loop-bound.
        let boundHandler = NIOLoopBound(replyHandler, eventLoop: context.eventLoop)
        var address = base
        address.port = self.port
        DatagramBootstrap(group: context.eventLoop)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: datagramBufferSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(boundHandler.value) }
            }
            .connect(to: address)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard !session.ended else {
                        channel.close(promise: nil)
                        return
                    }
                    session.channel = channel
                    for datagram in session.queue { self.send(datagram, on: session) }
                    session.queue.removeAll()
                case .failure:
                    endpoint.stats.connectFailures.wrappingIncrement(ordering: .relaxed)
                    self.fail(session, client: client, reason: "connect_failed")
                }
            }
    }

    private func send(_ datagram: ByteBuffer, on session: Session) {
        guard let channel = session.channel else {
            if session.queue.count < self.forwarding.udp.maxQueuedDatagrams { session.queue.append(datagram) }
            return
        }
        let bytes = datagram.readableBytes
        session.endpoint.stats.bytesIn.wrappingIncrement(by: bytes, ordering: .relaxed)
        session.log?.bytesIn.wrappingIncrement(by: bytes, ordering: .relaxed)
        self.forwarding.runtime.stats.bytesIn.wrappingIncrement(by: bytes, ordering: .relaxed)
        // A failed write surfaces as an error on the session's socket, which ends the session.
        channel.writeAndFlush(datagram, promise: nil)
    }

    /// The session's endpoint socket failed: end it now, so the client's next datagram opens a fresh one instead
    /// of feeding a dead socket until the idle timeout.
    private func fail(_ session: Session, client: SocketAddress, reason: String = "endpoint_error") {
        guard !session.ended else { return }
        if self.sessions[client] === session { self.sessions[client] = nil }
        if reason == "endpoint_error" { self.forwarding.runtime.stats.sessionErrors.wrappingIncrement(ordering: .relaxed) }
        self.end(session, reason: reason)
    }

    private func sweep(context: ChannelHandlerContext) {
        let cutoff = NIODeadline.now() - self.forwarding.udp.idleTimeout
        for (client, session) in self.sessions where session.lastActivity < cutoff {
            self.sessions[client] = nil
            self.end(session, reason: "idle_timeout")
        }
    }

    private func end(_ session: Session, reason: String) {
        guard !session.ended else { return }
        session.ended = true
        session.log?.finish(endpoint: session.endpoint, end: reason)
        session.channel?.close(promise: nil)
        session.channel = nil
        session.queue.removeAll()
        session.endpoint.stats.closed()
        self.forwarding.runtime.stats.closed()
        self.forwarding.runtime.udpSessions.wrappingDecrement(ordering: .relaxed)
        self.forwarding.udp.processSessions.wrappingDecrement(ordering: .relaxed)
    }
}

/// On a session's endpoint socket: relays each reply to the client through the listener socket, and reports the
/// socket's failure (ICMP errors arrive as errors on a connected UDP socket).
final class UDPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let client: SocketAddress
    private let listener: any Channel
    private let listenerStats: FlowStats
    private let endpointStats: FlowStats
    private let onReply: (Int) -> Void
    private let onError: () -> Void

    init(
        client: SocketAddress,
        listener: any Channel,
        listenerStats: FlowStats,
        endpointStats: FlowStats,
        onReply: @escaping (Int) -> Void,
        onError: @escaping () -> Void
    ) {
        self.client = client
        self.listener = listener
        self.listenerStats = listenerStats
        self.endpointStats = endpointStats
        self.onReply = onReply
        self.onError = onError
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        let bytes = envelope.data.readableBytes
        self.onReply(bytes)
        self.listenerStats.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
        self.endpointStats.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
        self.listener.writeAndFlush(AddressedEnvelope(remoteAddress: self.client, data: envelope.data), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.onError()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closed from outside the session (shutdown) or after an error: either way the session is over.
        self.onError()
        context.fireChannelInactive()
    }
}
