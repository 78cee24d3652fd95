import CSlipstreamLinux
import Glibc
import NIOCore

/// A socket a listener port is served on, by one ``FlowLoop``: opened and bound on the caller's thread (so a taken
/// port fails the apply at once), then handed to its loop, which watches it (level-triggered input) until it is
/// removed.
class ListeningSocket: LoopSource, @unchecked Sendable {
    let fd: Int32
    /// The loop serving the socket, from ``attach(to:)`` to ``detach()`` (a strong reference: the loop holds the
    /// socket as long, and a weak one would cost a side-table load on every datagram).
    private(set) var loop: FlowLoop?

    init(fd: Int32) {
        self.fd = fd
    }

    /// On the loop: starts watching the socket.
    func attach(to loop: FlowLoop) {
        self.loop = loop
        do {
            try loop.register(self.fd, events: EPOLLIN.rawValue, source: self, tag: 0)
        } catch {
            loop.logger.error("cannot watch a listening socket", metadata: ["error": "\(error)"])
        }
    }

    /// On the loop: ends the sessions of `endpointID` this socket holds now at `deadline` (monotonic nanoseconds), if
    /// they are still open then. Sockets without sessions of their own (TCP) have nothing to do.
    func drain(endpointID: String, at deadline: Int64) {}

    /// On the loop (or before it was handed over): stops watching the socket and closes it.
    func detach() {
        self.loop?.unregister(self.fd)
        close(self.fd)
        self.loop = nil
    }
}

/// A non-blocking, close-on-exec socket of `type` bound to `address`, with `configure` run before the bind.
/// - Throws: ``SocketError`` from `socket`, `configure` or `bind`; the socket is closed then.
func openSocket(_ address: SocketAddress, type: __socket_type, configure: (Int32) throws -> Void) throws -> Int32 {
    let fd = socket(Int32(address.protocol.rawValue), Int32(type.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SocketError("socket", errno) }
    do {
        try configure(fd)
        let bound = address.withSockAddr { bind(fd, $0, socklen_t($1)) }
        guard bound == 0 else { throw SocketError("bind", errno) }
        return fd
    } catch {
        close(fd)
        throw error
    }
}

/// Writes `address` with `port` into `storage` (no text, no allocation) and returns its length.
func withSocketAddress(_ address: SocketAddress, port: Int, into storage: inout sockaddr_storage) -> socklen_t {
    var length = socklen_t(0)
    address.withSockAddr { pointer, size in
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: size)) }
        length = socklen_t(size)
    }
    // sin_port and sin6_port sit at the same offset.
    withUnsafeMutablePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = in_port_t(UInt16(port).bigEndian) }
    }
    return length
}

/// Sets an integer socket option.
/// - Throws: ``SocketError`` from `setsockopt`.
func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws {
    var value = value
    guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else { throw SocketError("setsockopt", errno) }
}
