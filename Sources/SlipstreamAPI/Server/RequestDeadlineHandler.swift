import NIOCore
import NIOHTTPTypes

/// Bounds how long a client may take to send one request, and closes a connection whose response went out before
/// its request body had been read.
///
/// Sits in each API connection's pipeline after HTTP decoding, next to Hummingbird's idle timeout (which closes a
/// connection that sends no complete request head for the idle timeout, after it opens or after its last
/// response):
/// - a request whose end has not arrived `readTimeout` after its head closes the connection (nginx's
///   `client_body_timeout`, HAProxy's `timeout http-request`), so a body trickled forever holds no connection;
/// - a response that ends before its request was fully read (an error such as 413 for an oversized body) closes the
///   connection once written, instead of reading and discarding the rest of the body (RFC 9112 §9.6);
/// - a connection that stays unwritable (its client reads no responses, so they back up) for `readTimeout` is
///   reset (nginx's `send_timeout`): Hummingbird's idle timer does not run while a response is being written.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let readTimeout: TimeAmount
    /// Requests whose end has arrived, and responses whose end was written; responses go out in request order.
    private var requestsRead = 0
    private var responsesEnded = 0
    private var deadline: Scheduled<Void>?
    private var writeDeadline: Scheduled<Void>?

    /// - Parameter readTimeout: the longest a request may take from its head to its end.
    init(readTimeout: TimeAmount) {
        self.readTimeout = readTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head:
            self.deadline?.cancel()
            let channel = context.channel
            self.deadline = context.eventLoop.scheduleTask(in: self.readTimeout) { channel.close(promise: nil) }
        case .body:
            break
        case .end:
            self.requestsRead += 1
            self.deadline?.cancel()
            self.deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = self.unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        self.responsesEnded += 1
        guard self.responsesEnded > self.requestsRead else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.writeAndFlush(data, promise: written)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.writeDeadline?.cancel()
            self.writeDeadline = nil
        } else if self.writeDeadline == nil {
            let channel = context.channel
            // Reset rather than close: a FIN would wait behind the unread responses for as long as the client
            // does not read, and the kernel would keep their buffers.
            self.writeDeadline = context.eventLoop.scheduleTask(in: self.readTimeout) {
                guard let provider = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
                provider.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.cancelTimers()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.cancelTimers()
    }

    private func cancelTimers() {
        self.deadline?.cancel()
        self.deadline = nil
        self.writeDeadline?.cancel()
        self.writeDeadline = nil
    }
}
