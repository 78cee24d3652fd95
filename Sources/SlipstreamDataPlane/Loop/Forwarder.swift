import Atomics
import Logging
import NIOCore

/// The data plane of a PoP: one ``FlowLoop`` thread per core, each with its own socket for every listener port
/// (`SO_REUSEPORT`, so the kernel spreads new TCP connections and UDP clients over the loops) and the flows and
/// sessions it took.
///
/// Why not NIO channels: a TCP flow through two NIO channels cost about 2.5× HAProxy's CPU per connection and 1.5×
/// per keep-alive request in the benchmark (`docs/benchmarks.md`), and a UDP round trip twice nginx's, spent in
/// channel creation, pipelines, promises, envelopes and reference counting rather than in the kernel. A flow here
/// is one object, its descriptors registered once, and plain `read`/`write`/`sendto` calls.
final class Forwarder: Sendable {
    private let loops: [FlowLoop]
    private let open = ManagedAtomic<Int>(0)

    /// Starts `count` loop threads.
    /// - Throws: ``SocketError`` when the kernel gives no epoll set or eventfd.
    init(count: Int, logger: Logger) throws {
        let open = self.open
        self.loops = try (0..<max(count, 1)).map { try FlowLoop(index: $0, openFlows: open, logger: logger) }
        for loop in self.loops { loop.start(name: "flow-loop-\(loop.index)") }
    }

    /// A forwarder dropped without ``stop()`` (a PoP that was never shut down) still ends its threads.
    deinit {
        for loop in self.loops { loop.submit(.stop(done: {})) }
    }

    /// The number of loops: each ``ListenerRuntime`` keeps this many balancing states.
    var count: Int { self.loops.count }

    /// Spliced flows open now, over all loops.
    var openFlows: Int { self.open.load(ordering: .relaxed) }

    /// Opens a TCP listening socket on `address`:`port` once per loop and starts accepting on them.
    /// - Throws: ``SocketError`` (the port is taken, the address is not local, no descriptors are left); then none
    ///   of the sockets stays open.
    func listenTCP(address: String, port: Int, runtime: ListenerRuntime, accessLog: AccessLogWriter?, connectTimeout: TimeAmount) throws
        -> [ListeningSocket]
    {
        try self.open {
            try TCPListenerSocket(address: address, port: port, runtime: runtime, accessLog: accessLog, connectTimeout: connectTimeout)
        }
    }

    /// Opens a UDP socket on `address`:`port` once per loop and starts serving clients on them.
    /// - Throws: as ``listenTCP(address:port:runtime:accessLog:connectTimeout:)``.
    func listenUDP(address: String, port: Int, runtime: ListenerRuntime, accessLog: AccessLogWriter?, limits: UDPLimits) throws
        -> [ListeningSocket]
    {
        try self.open { try UDPListenerSocket(address: address, port: port, runtime: runtime, accessLog: accessLog, limits: limits) }
    }

    private func open(_ make: () throws -> ListeningSocket) throws -> [ListeningSocket] {
        var sockets: [ListeningSocket] = []
        do {
            for _ in self.loops { sockets.append(try make()) }
        } catch {
            for socket in sockets { socket.detach() }
            throw error
        }
        for (loop, socket) in zip(self.loops, sockets) { loop.submit(.addListener(socket)) }
        return sockets
    }

    /// Stops serving `sockets` (from ``listenTCP(address:port:runtime:accessLog:connectTimeout:)`` or
    /// ``listenUDP(address:port:runtime:accessLog:limits:)``) and closes them. TCP flows they accepted stay open;
    /// UDP sessions end with them.
    func close(_ sockets: [ListeningSocket]) async {
        for (loop, socket) in zip(self.loops, sockets) {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                loop.submit(.removeListener(socket, done: { done.resume() }))
            }
        }
    }

    /// Closes the TCP flows of `endpointID` (spliced to it or dialling it) and ends its UDP sessions that are open now
    /// and still open after `timeout`; later flows are not affected.
    func drain(endpointID: String, after timeout: TimeAmount) {
        for loop in self.loops { loop.submit(.drain(endpointID: endpointID, afterNanoseconds: timeout.nanoseconds)) }
    }

    /// Closes every listening socket and flow and ends the loop threads.
    func stop() async {
        for loop in self.loops {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                loop.submit(.stop(done: { done.resume() }))
            }
        }
    }
}
