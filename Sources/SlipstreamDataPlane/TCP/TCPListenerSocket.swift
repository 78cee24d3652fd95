import CSlipstreamLinux
import Glibc
import NIOCore

/// One listening TCP socket of one listener port, served by one ``FlowLoop``, which accepts on it until it is
/// removed. Closing it leaves the flows it accepted open.
final class TCPListenerSocket: ListeningSocket, @unchecked Sendable {
    /// Timeout of one endpoint connect attempt, in nanoseconds.
    let connectTimeout: Int64
    /// Accepting is paused after the process ran out of descriptors; resumed after `backoff` nanoseconds, doubled
    /// at each failure up to 1 s (as NIO's `AcceptBackoffHandler`), reset by an accept that works.
    private var paused = false
    private var backoff: Int64 = 0

    /// Connections taken per readiness event before other sockets get their turn (the socket stays readable, so
    /// epoll reports it again).
    private static let acceptsPerEvent = 32

    /// Opens a listening socket on `address`:`port` with `SO_REUSEADDR`, `SO_REUSEPORT` (one socket per loop of this
    /// process) and `TCP_NODELAY` (accepted sockets inherit it), non-blocking, with a backlog of 1024.
    /// - Throws: ``SocketError`` (the address is not local, the port is taken, no descriptors are left).
    init(address: String, port: Int, runtime: ListenerRuntime, accessLog: AccessLogWriter?, connectTimeout: TimeAmount) throws {
        let socketAddress = try SocketAddress(ipAddress: address, port: port)
        let fd = try openSocket(socketAddress, type: SOCK_STREAM) { fd in
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
            try setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        }
        guard listen(fd, 1024) == 0 else {
            let code = errno
            close(fd)
            throw SocketError("listen", code)
        }
        self.connectTimeout = connectTimeout.nanoseconds
        super.init(fd: fd, address: socketAddress, port: port, runtime: runtime, accessLog: accessLog)
    }

    override func handle(events: UInt32, tag: Int) {
        guard let loop = self.loop, !self.paused else { return }
        for _ in 0..<Self.acceptsPerEvent {
            var client = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &client) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    cslipstream_accept4(self.fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if fd >= 0 {
                self.backoff = 0
                loop.accepted(fd, from: client, listener: self)
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK:
                return
            case EINTR, ECONNABORTED, EPROTO:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                self.pause(loop, errno: errno)
                return
            default:
                loop.logger.warning("accept failed", metadata: ["errno": "\(errno)", "port": "\(self.port)"])
                return
            }
        }
    }

    /// Out of descriptors or memory: stop watching the socket for a while (connections wait in the backlog) instead
    /// of waking up for it in a busy loop.
    private func pause(_ loop: FlowLoop, errno code: Int32) {
        self.paused = true
        self.backoff = min(max(self.backoff * 2, 50_000_000), 1_000_000_000)
        loop.modify(self.fd, events: 0, source: self, tag: 0)
        loop.logger.warning(
            "accept failed for lack of resources; accepting again after a pause",
            metadata: ["error": "\(SocketError("accept", code))", "pause_ms": "\(self.backoff / 1_000_000)", "port": "\(self.port)"]
        )
        loop.schedule(at: loop.now + self.backoff) { [weak self] in
            guard let self, self.paused, let loop = self.loop else { return }
            self.paused = false
            loop.modify(self.fd, events: EPOLLIN.rawValue, source: self, tag: 0)
        }
    }
}
