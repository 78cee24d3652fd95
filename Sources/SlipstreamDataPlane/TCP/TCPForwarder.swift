import Atomics
import Logging
import NIOCore

/// The TCP data plane of a PoP: one ``FlowLoop`` thread per core, each with its own listening socket for every
/// port (`SO_REUSEPORT`, so the kernel spreads new connections over the loops) and the flows it accepted.
///
/// Why not NIO channels: a flow through two NIO channels cost about 2.5× HAProxy's CPU per connection and 1.5× per
/// keep-alive request in the benchmark (`docs/benchmarks.md`), spent in channel creation, pipelines, promises and
/// reference counting rather than in the kernel. A flow here is one object, two descriptors registered once, and
/// plain `read`/`write` calls.
final class TCPForwarder: Sendable {
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

    /// Opens `address`:`port` once per loop and starts accepting on it; if any socket fails, the others are closed.
    /// - Throws: ``SocketError`` (the port is taken, the address is not local, no descriptors are left).
    func listen(address: String, port: Int, runtime: ListenerRuntime, accessLog: AccessLogWriter?, connectTimeout: TimeAmount) throws
        -> [TCPListenerSocket]
    {
        var sockets: [TCPListenerSocket] = []
        do {
            for _ in self.loops {
                sockets.append(
                    try TCPListenerSocket(address: address, port: port, runtime: runtime, accessLog: accessLog, connectTimeout: connectTimeout)
                )
            }
        } catch {
            for socket in sockets { socket.detach() }
            throw error
        }
        for (loop, socket) in zip(self.loops, sockets) { loop.submit(.addListener(socket)) }
        return sockets
    }

    /// Stops accepting on `sockets` (from ``listen(address:port:runtime:accessLog:connectTimeout:)``) and closes
    /// them; flows they accepted stay open.
    func close(_ sockets: [TCPListenerSocket]) async {
        for (loop, socket) in zip(self.loops, sockets) {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                loop.submit(.removeListener(socket, done: { done.resume() }))
            }
        }
    }

    /// Closes the flows spliced to `endpointID` now that are still open after `timeout`; later flows are not affected.
    func drain(endpointID: String, after timeout: TimeAmount) {
        for loop in self.loops { loop.submit(.drain(endpointID: endpointID, afterNanoseconds: timeout.nanoseconds)) }
    }

    /// Closes every flow now.
    func closeAll() {
        for loop in self.loops { loop.submit(.closeAll(endpointID: nil)) }
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
