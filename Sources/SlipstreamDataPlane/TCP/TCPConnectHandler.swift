import Logging
import NIOCore
import NIOPosix
import SlipstreamModel

/// First handler of every accepted client connection: asks the listener's plan for endpoints, dials them in turn
/// on the client's own event loop (each with a connect timeout) and, once one answers, splices the two connections
/// with a ``GlueHandler`` pair and steps aside. Decisions are ``TCPFlowStateMachine``'s.
///
/// The client connection is accepted with `autoRead` off, so nothing is read before an endpoint is there.
final class TCPConnectHandler {
    private var machine = TCPFlowStateMachine()
    /// What arrived before the endpoint connection was there. With `autoRead` off NIO still reads everything up
    /// to an end-of-file it was notified of, so this is bounded by the socket's receive buffer.
    private var early: [ByteBuffer] = []
    private var earlyEOF = false
    /// Set when the listener has a logtank.
    private var flowLog: FlowLog?
    private var plan: ListenerPlan?
    private var targets: [FlowTarget] = []
    private let context: ForwardingContext
    private let port: Int
    /// Whether this flow counts in the listener's open flows; the count is taken back when the client leaves
    /// before the splice, or by the client's ``GlueHandler`` after it.
    private var counted = false

    init(context: ForwardingContext, port: Int) {
        self.context = context
        self.port = port
    }
}

extension TCPConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let runtime = self.context.runtime
        let client = IPAddress(context.channel.remoteAddress)
        let plan = runtime.current
        self.plan = plan
        let admitted = plan.admits(client)
        if admitted { self.targets = runtime.choose(in: plan, client: client, on: context.eventLoop) }
        self.flowLog = FlowLog.start(
            self.context,
            plan: plan,
            proto: .tcp,
            client: context.channel.remoteAddress,
            accelerator: context.channel.localAddress
        )
        if admitted {
            runtime.stats.opened()
            self.counted = true
        }
        self.perform(self.machine.clientConnected(admitted: admitted, targets: self.targets.count), context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.counted {
            self.counted = false
            self.context.runtime.stats.closed()
        }
        self.machine.clientClosed()
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
        self.machine.clientClosed()
        context.close(promise: nil)
    }

    private func perform(_ action: TCPFlowStateMachine.Action, context: ChannelHandlerContext, endpoint: (any Channel)? = nil) {
        switch action {
        case .none:
            break
        case .refuse(let refusal):
            self.flowLog?.finish(endpoint: self.targets.last.map { self.endpoint($0) }, end: refusal.rawValue)
            switch refusal {
            case .denied:
                self.context.runtime.stats.denied.wrappingIncrement(ordering: .relaxed)
                context.close(promise: nil)
            case .noEndpoint, .connectFailed:
                self.context.runtime.stats.refused.wrappingIncrement(ordering: .relaxed)
                context.channel.abort()
            }
        case .connect(let attempt):
            self.connect(attempt: attempt, context: context)
        case .splice(let attempt):
            if let endpoint { self.glue(client: context, endpoint: endpoint, target: self.targets[attempt]) }
        case .discardEndpoint:
            endpoint?.close(promise: nil)
        }
    }

    private func endpoint(_ target: FlowTarget) -> PlannedEndpoint {
        self.plan!.groups[target.group].endpoints[target.endpoint]
    }

    private func connect(attempt: Int, context: ChannelHandlerContext) {
        let endpoint = self.endpoint(self.targets[attempt])
        guard var address = endpoint.address else {
            self.perform(self.machine.connectFailed(attempt: attempt), context: context)
            return
        }
        address.port = self.port
        self.context.endpointDialer
            .connect(to: address)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.perform(self.machine.connectSucceeded(attempt: attempt), context: context, endpoint: channel)
                case .failure(let error):
                    endpoint.stats.connectFailures.wrappingIncrement(ordering: .relaxed)
                    self.context.logger.debug(
                        "endpoint connect failed",
                        metadata: ["endpoint_id": "\(endpoint.id)", "error": "\(error)"]
                    )
                    self.perform(self.machine.connectFailed(attempt: attempt), context: context)
                }
            }
    }

    private func glue(client context: ChannelHandlerContext, endpoint: any Channel, target: FlowTarget) {
        let planned = self.endpoint(target)
        let listener = self.context.runtime.stats
        let stats = planned.stats
        stats.opened()
        var clientBytes = [listener.bytesIn, stats.bytesIn]
        var endpointBytes = [listener.bytesOut, stats.bytesOut]
        var clientEnding = FlowEnding(stats: listener, tracking: (self.context.flows, planned.id))
        if let log = self.flowLog {
            clientBytes.append(log.bytesIn)
            endpointBytes.append(log.bytesOut)
            clientEnding.log = (log, planned)
        }
        let (clientSide, endpointSide) = GlueHandler.matchedPair(
            clientBytes: clientBytes,
            endpointBytes: endpointBytes,
            clientEnding: clientEnding,
            endpointEnding: FlowEnding(stats: stats)
        )
        do {
            try endpoint.pipeline.syncOperations.addHandler(endpointSide)
            try context.pipeline.syncOperations.addHandler(clientSide)
            // From here the client's GlueHandler settles the listener's count when the client side closes.
            self.counted = false
            self.context.flows.track(context.channel, endpointID: planned.id)
            // Hand on what the client sent (and whether it finished) before the endpoint was connected.
            for buffer in self.early { context.fireChannelRead(self.wrapInboundOut(buffer)) }
            if !self.early.isEmpty { context.fireChannelReadComplete() }
            if self.earlyEOF { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
            self.early.removeAll()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            // Reading starts now, on both sides (set on the loop, without a future). The explicit read matters when a
            // peer already closed: NIO noted that end-of-file while autoRead was off and would otherwise never read it.
            for channel in [context.channel, endpoint] {
                try channel.syncOptions?.setOption(.autoRead, value: true)
                channel.read()
            }
        } catch {
            endpoint.close(promise: nil)
            context.close(promise: nil)
        }
    }
}
