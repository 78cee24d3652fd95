import CSlipstreamLinux
import Glibc
import NIOCore
import SlipstreamModel

/// A socket a listener port is served on, by one ``FlowLoop``: opened and bound on the caller's thread (so a taken
/// port fails the apply at once), then handed to its loop, which watches it (level-triggered input) until it is
/// removed.
class ListeningSocket: LoopSource, @unchecked Sendable {
    let fd: Int32
    let runtime: ListenerRuntime
    /// The listener port: endpoints are reached on the same port.
    let port: Int
    /// The accelerator address and port clients send to, for the access log.
    let acceleratorAddress: SocketAddress
    let accessLog: AccessLogWriter?
    /// The loop serving the socket, from ``attach(to:)`` to ``detach()`` (a strong reference: the loop holds the
    /// socket as long, and a weak one would cost a side-table load on every datagram).
    private(set) var loop: FlowLoop?

    /// Takes `fd`, bound to `address` (the accelerator's address at `port`).
    init(fd: Int32, address: SocketAddress, port: Int, runtime: ListenerRuntime, accessLog: AccessLogWriter?) {
        self.fd = fd
        self.acceleratorAddress = address
        self.port = port
        self.runtime = runtime
        self.accessLog = accessLog
    }

    /// The access-log record of a new flow from `client`, or nil when the listener has no logtank (or access logging
    /// is off).
    func flowLog(plan: ListenerPlan, proto: ListenerProtocol, client: sockaddr_storage) -> FlowLog? {
        guard let writer = self.accessLog, let sink = plan.logSink else { return nil }
        return FlowLog(
            sink: sink,
            writer: writer,
            listenerID: plan.listenerID,
            proto: proto,
            client: SocketAddress(client),
            accelerator: self.acceleratorAddress
        )
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

extension IPAddress {
    /// The address of a socket address as the kernel gives it, without going through text; nil for other families.
    init?(_ address: sockaddr_storage) {
        var address = address
        switch Int32(address.ss_family) {
        case AF_INET:
            let v4 = withUnsafeBytes(of: &address) { $0.load(as: sockaddr_in.self) }
            self = .v4(UInt32(bigEndian: v4.sin_addr.s_addr))
        case AF_INET6:
            let v6 = withUnsafeBytes(of: &address) { $0.load(as: sockaddr_in6.self) }
            var value: UInt128 = 0
            withUnsafeBytes(of: v6.sin6_addr) { bytes in
                for byte in bytes { value = value << 8 | UInt128(byte) }
            }
            self = .v6(value)
        default:
            return nil
        }
    }
}

extension SocketAddress {
    /// The socket address of an IPv4 or IPv6 `sockaddr_storage`; nil for other families.
    init?(_ address: sockaddr_storage) {
        var address = address
        switch Int32(address.ss_family) {
        case AF_INET:
            let v4 = withUnsafeBytes(of: &address) { $0.load(as: sockaddr_in.self) }
            self.init(v4, host: "")
        case AF_INET6:
            let v6 = withUnsafeBytes(of: &address) { $0.load(as: sockaddr_in6.self) }
            self.init(v6, host: "")
        default:
            return nil
        }
    }
}
