import Logging
import NIOCore
import NIOPosix

/// First handler of every accepted client connection: picks endpoints, dials them in turn (each with a connect
/// timeout) and, once one answers, splices the two connections with a ``GlueHandler`` pair and steps aside.
/// The client connection is accepted with `autoRead` off, so nothing is read before an endpoint is there.
final class TCPConnectHandler {
    enum State {
        case idle
        case connecting
        case connected
        case closed
    }

    private var state = State.idle
    /// What arrived before the endpoint connection was there. With `autoRead` off NIO still reads everything up
    /// to an end-of-file it was notified of, so this is bounded by the socket's receive buffer.
    private var early: [ByteBuffer] = []
    private var earlyEOF = false
    /// Set when the listener has a logtank.
    private var flowLog: FlowLog?
    private let context: ForwardingContext
    private let port: Int

    init(context: ForwardingContext, port: Int) {
        self.context = context
        self.port = port
    }
}

extension TCPConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let client = context.channel.remoteAddress?.ipAddress ?? ""
        self.flowLog = FlowLog.start(self.context, proto: "TCP", client: context.channel.remoteAddress, accelerator: context.channel.localAddress)
        guard self.context.router.admits(clientAddress: client) else {
            // Closed before any endpoint is contacted.
            self.flowLog?.finish(endpoint: nil, end: "denied")
            self.context.listenerStats.denied.wrappingIncrement(ordering: .relaxed)
            self.state = .closed
            context.close(promise: nil)
            return
        }
        let targets = self.context.router.choose(clientAddress: client)
        self.context.listenerStats.opened()
        context.channel.closeFuture.whenComplete { [stats = self.context.listenerStats] _ in stats.closed() }
        guard !targets.isEmpty else {
            self.flowLog?.finish(endpoint: nil, end: "no_endpoint")
            self.context.listenerStats.refused.wrappingIncrement(ordering: .relaxed)
            self.state = .closed
            context.close(promise: nil)
            return
        }
        self.state = .connecting
        self.connect(targets, attempt: 0, context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.early.append(self.unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            self.earlyEOF = true
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.state = .closed
        context.close(promise: nil)
    }

    private func connect(_ targets: [EndpointTarget], attempt: Int, context: ChannelHandlerContext) {
        let target = targets[attempt]
        let endpointStats = self.context.metrics.endpoint(target.endpointID, listenerID: self.context.router.listenerID)
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(self.context.connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: false)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: target.address, port: self.port)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch (result, self.state) {
                case (.success(let endpoint), .connecting):
                    self.glue(client: context, endpoint: endpoint, target: target, stats: endpointStats)
                case (.success(let endpoint), _):
                    endpoint.close(promise: nil)
                case (.failure(let error), .connecting):
                    endpointStats.connectFailures.wrappingIncrement(ordering: .relaxed)
                    self.context.logger.debug(
                        "endpoint connect failed",
                        metadata: ["endpoint_id": "\(target.endpointID)", "error": "\(error)"]
                    )
                    if attempt + 1 < targets.count {
                        self.connect(targets, attempt: attempt + 1, context: context)
                    } else {
                        self.flowLog?.finish(endpoint: target, end: "connect_failed")
                        self.context.listenerStats.refused.wrappingIncrement(ordering: .relaxed)
                        self.state = .closed
                        context.close(promise: nil)
                    }
                case (.failure, _):
                    break
                }
            }
    }

    private func glue(client context: ChannelHandlerContext, endpoint: any Channel, target: EndpointTarget, stats: FlowStats) {
        self.state = .connected
        let listener = self.context.listenerStats
        stats.opened()
        endpoint.closeFuture.whenComplete { _ in stats.closed() }
        var clientBytes = [listener.bytesIn, stats.bytesIn]
        var endpointBytes = [listener.bytesOut, stats.bytesOut]
        if let log = self.flowLog {
            clientBytes.append(log.bytesIn)
            endpointBytes.append(log.bytesOut)
            context.channel.closeFuture.whenComplete { _ in log.finish(endpoint: target, end: "closed") }
        }
        let (clientSide, endpointSide) = GlueHandler.matchedPair(clientBytes: clientBytes, endpointBytes: endpointBytes)
        do {
            try endpoint.pipeline.syncOperations.addHandler(endpointSide)
            try context.pipeline.syncOperations.addHandler(clientSide)
            self.context.flows.track(context.channel, endpointID: target.endpointID)
            // Hand on what the client sent (and whether it finished) before the endpoint was connected.
            for buffer in self.early { context.fireChannelRead(self.wrapInboundOut(buffer)) }
            if !self.early.isEmpty { context.fireChannelReadComplete() }
            if self.earlyEOF { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
            self.early.removeAll()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            // Reading starts now, on both sides. The explicit read matters when a peer already closed: NIO noted
            // that end-of-file while autoRead was off and would otherwise never read it.
            for channel in [context.channel, endpoint] {
                channel.setOption(.autoRead, value: true).whenComplete { result in
                    switch result {
                    case .success: channel.read()
                    case .failure: channel.close(promise: nil)
                    }
                }
            }
        } catch {
            endpoint.close(promise: nil)
            context.close(promise: nil)
        }
    }
}
