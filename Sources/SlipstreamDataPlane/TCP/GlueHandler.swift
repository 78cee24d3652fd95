import Atomics
import NIOCore

/// One half of a pair of handlers that splice two channels together: bytes read on one side are written to the
/// other. Reading pauses while the partner cannot take more (backpressure), end-of-input becomes a half-close of
/// the partner's output, a close on one side closes the other once what it sent is written, and an error (a reset
/// by the peer, a broken pipe) aborts the other with a reset, so a truncated stream never looks complete.
final class GlueHandler {
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// Set once this side is being reset; a later close must not turn it into a FIN.
    private var aborting = false
    /// Counts the bytes this side reads.
    private let bytesRead: [ManagedAtomic<Int>]
    /// Bytes read since the counters were last updated: they are added once per read burst, not per read.
    private var unreported = 0
    /// What to settle when this side closes.
    private let ending: FlowEnding

    private init(bytesRead: [ManagedAtomic<Int>], ending: FlowEnding) {
        self.bytesRead = bytesRead
        self.ending = ending
    }

    /// A matched pair: the first goes on the client channel, the second on the endpoint channel.
    static func matchedPair(
        clientBytes: [ManagedAtomic<Int>],
        endpointBytes: [ManagedAtomic<Int>],
        clientEnding: FlowEnding,
        endpointEnding: FlowEnding
    ) -> (GlueHandler, GlueHandler) {
        let client = GlueHandler(bytesRead: clientBytes, ending: clientEnding)
        let endpoint = GlueHandler(bytesRead: endpointBytes, ending: endpointEnding)
        client.partner = endpoint
        endpoint.partner = client
        return (client, endpoint)
    }
}

/// The bookkeeping of one side of a spliced flow, settled once when that side's channel closes: its flow count,
/// its registration for draining and its access-log record. Done in `channelInactive` rather than with close-future
/// callbacks, so a flow allocates no callbacks for it.
struct FlowEnding {
    var stats: FlowStats
    var tracking: (tracker: FlowTracker, endpointID: String)? = nil
    var log: (log: FlowLog, endpoint: PlannedEndpoint)? = nil

    func settle(_ channel: any Channel) {
        self.stats.closed()
        if let tracking { tracking.tracker.untrack(channel, endpointID: tracking.endpointID) }
        if let log { log.log.finish(endpoint: log.endpoint, end: "closed") }
    }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.unreported += buffer.readableBytes
        self.partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.reportBytes()
        self.partner?.partnerFlush()
    }

    private func reportBytes() {
        guard self.unreported > 0 else { return }
        for counter in self.bytesRead { counter.wrappingIncrement(by: self.unreported, ordering: .relaxed) }
        self.unreported = 0
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.reportBytes()
        self.ending.settle(context.channel)
        self.partner?.partnerClose()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            self.partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.partner?.partnerAbort()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
    }

    func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }
}

extension GlueHandler {
    private func partnerWrite(_ buffer: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    private func partnerWriteEOF() {
        guard let context = self.context else { return }
        let channel = context.channel
        // Half-close once everything written so far has gone out; a channel that cannot half-close is closed. The
        // wait is ours, not NIO's: when this side's input is already closed, NIO turns an output close into a full
        // close at once, which would drop what is still queued.
        self.afterPendingWrites(context) {
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
    }

    private func partnerAbort() {
        guard let context = self.context, !self.aborting else { return }
        self.aborting = true
        let channel = context.channel
        // What the other side sent before its error still goes out; then the reset.
        self.afterPendingWrites(context) { channel.abort() }
    }

    private func partnerClose() {
        guard let context = self.context, !self.aborting else { return }
        let channel = context.channel
        // Close once everything written so far has gone out, so the last bytes of the other side arrive.
        self.afterPendingWrites(context) { channel.close(promise: nil) }
    }

    /// Runs `body` now when nothing is waiting to be written, else when the writes queued before it have completed
    /// (writes complete in order).
    private func afterPendingWrites(_ context: ChannelHandlerContext, _ body: @escaping @Sendable () -> Void) {
        if let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), buffered == 0 {
            body()
            return
        }
        let marker = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer()), promise: marker)
        marker.futureResult.whenComplete { _ in body() }
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private var partnerWritable: Bool {
        self.context?.channel.isWritable ?? false
    }
}
