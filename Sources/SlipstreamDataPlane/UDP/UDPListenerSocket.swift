import Atomics
import CSlipstreamLinux
import Glibc
import NIOCore
import SlipstreamModel

/// Every datagram socket of the data plane reads into buffers of this size, so any IPv4 datagram (at most
/// 65,507 bytes of payload) and any IPv6 datagram without jumbo options arrives whole.
let datagramBufferSize = 65_536

/// Datagrams a UDP socket takes per readiness event, in one `recvmmsg` call (and a session's replies go back in one
/// `sendmmsg`). The sockets are registered level-triggered, so one that still holds datagrams is reported again
/// after the other ready sockets had their turn.
let datagramsPerBatch = 16

/// One UDP socket of one listener port on one ``FlowLoop``, with the sessions of the clients it received from:
/// each client address gets a session with its own connected socket to the chosen endpoint; replies go back to the
/// client from this socket (the accelerator's address and port).
///
/// A session ends after the idle timeout, when its endpoint socket fails (an ICMP error such as port unreachable
/// arrives as an error on a connected UDP socket, or a send fails; the client's next datagram opens a fresh
/// session), or when the listener closes. Sessions are budgeted per listener and per process; a datagram that
/// would need a session beyond either budget is dropped and counted, as is one that is larger than
/// ``datagramBufferSize`` (never truncated).
///
/// Touched only on its loop's thread, after it is handed over.
final class UDPListenerSocket: ListeningSocket, @unchecked Sendable {
    let limits: UDPLimits
    private var sessions: [UDPClientKey: UDPSession] = [:]
    private var attached = false
    private var kernelDrops = ReceiveBufferDrops()

    /// Opens a UDP socket on `address`:`port` with `SO_REUSEPORT` (one socket per loop of this process),
    /// non-blocking.
    /// - Throws: ``SocketError`` (the address is not local, the port is taken, no descriptors are left).
    init(address: String, port: Int, runtime: ListenerRuntime, accessLog: AccessLogWriter?, limits: UDPLimits) throws {
        let socketAddress = try SocketAddress(ipAddress: address, port: port)
        let fd = try openSocket(socketAddress, type: SOCK_DGRAM) { fd in
            try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
            try limits.prepare(fd)
        }
        self.limits = limits
        super.init(fd: fd, address: socketAddress, port: port, runtime: runtime, accessLog: accessLog)
    }

    override func attach(to loop: FlowLoop) {
        super.attach(to: loop)
        self.attached = true
        self.scheduleSweep(loop)
    }

    override func detach() {
        self.attached = false
        for session in Array(self.sessions.values) { session.end(reason: "shutdown") }
        self.sessions.removeAll()
        super.detach()
    }

    override func handle(events: UInt32, tag: Int) {
        guard let loop = self.loop else { return }
        let batch = loop.datagramBatch
        // EAGAIN or EINTR: nothing now; the socket is level-triggered, so what arrives is reported.
        let count = cslipstream_batch_receive(batch, self.fd)
        guard count > 0 else { return }
        let dropped = self.kernelDrops.new(in: batch, received: count)
        if dropped > 0 { self.runtime.stats.receiveBufferDrops.wrappingIncrement(by: dropped, ordering: .relaxed) }
        for index in 0..<UInt32(count) {
            let length = cslipstream_batch_length(batch, index)
            guard length <= datagramBufferSize else {
                self.runtime.stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
                continue
            }
            let datagram = UnsafeRawBufferPointer(start: cslipstream_batch_bytes(batch, index), count: length)
            self.received(datagram, from: cslipstream_batch_source(batch, index).pointee, loop: loop)
        }
    }

    private func received(_ datagram: UnsafeRawBufferPointer, from client: sockaddr_storage, loop: FlowLoop) {
        guard let key = UDPClientKey(client) else { return }
        if let session = self.sessions[key] {
            session.send(datagram)
            return
        }
        let runtime = self.runtime
        let stats = runtime.stats
        let plan = runtime.current
        let clientIP = key.address
        let admitted = plan.admits(clientIP)
        let routable = plan.isRoutable
        // A session that may open takes its place in both budgets before the budgets are checked, so loops that
        // admit at the same moment cannot both take the last place; the places go back unless it opens.
        let reserves = admitted && routable
        let listenerSessions = reserves ? runtime.udpSessions.loadThenWrappingIncrement(ordering: .relaxed) : 0
        let processSessions = reserves ? self.limits.processSessions.loadThenWrappingIncrement(ordering: .relaxed) : 0
        var opened = false
        defer {
            if reserves && !opened {
                runtime.udpSessions.wrappingDecrement(ordering: .relaxed)
                self.limits.processSessions.wrappingDecrement(ordering: .relaxed)
            }
        }
        let admission = UDPSessionAdmission.decide(
            admitted: admitted,
            routable: routable,
            listenerSessions: listenerSessions,
            maxPerListener: self.limits.maxSessionsPerListener,
            processSessions: processSessions,
            maxPerProcess: self.limits.maxSessionsPerProcess
        )
        switch admission {
        case .open:
            break
        case .denied:
            stats.denied.wrappingIncrement(ordering: .relaxed)
            return
        case .noEndpoint:
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            stats.refused.wrappingIncrement(ordering: .relaxed)
            self.flowLog(plan: plan, proto: .udp, client: client)?.finish(endpoint: nil, end: FlowRefusal.noEndpoint.rawValue)
            return
        case .listenerBudget, .processBudget:
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            stats.refused.wrappingIncrement(ordering: .relaxed)
            return
        }
        let targets = runtime.choose(in: plan, client: clientIP, loopIndex: loop.index)
        guard let target = targets.first, let address = plan.groups[target.group].endpoints[target.endpoint].address else {
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            stats.refused.wrappingIncrement(ordering: .relaxed)
            return
        }
        let endpoint = plan.groups[target.group].endpoints[target.endpoint]
        let fd: Int32
        do {
            fd = try connectedDatagramSocket(to: address, port: self.port, limits: self.limits)
        } catch {
            endpoint.stats.connectFailures.wrappingIncrement(ordering: .relaxed)
            stats.connectFailures.wrappingIncrement(ordering: .relaxed)
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            stats.refused.wrappingIncrement(ordering: .relaxed)
            loop.logger.debug("endpoint socket failed", metadata: ["endpoint_id": "\(endpoint.id)", "error": "\(error)"])
            return
        }
        let session = UDPSession(
            fd: fd,
            key: key,
            client: client,
            endpoint: endpoint,
            listener: self,
            log: self.flowLog(plan: plan, proto: .udp, client: client),
            now: loop.now,
            loopIndex: loop.index
        )
        do {
            try loop.register(fd, events: EPOLLIN.rawValue, source: session, tag: 0)
        } catch {
            close(fd)
            stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            return
        }
        self.sessions[key] = session
        opened = true
        stats.opened(loop: loop.index)
        endpoint.stats.opened(loop: loop.index)
        session.send(datagram)
    }

    /// Sessions of an endpoint that left the configuration (or dropped to weight 0) end at `deadline`; the client's
    /// next datagram then opens a session on an endpoint of the current plan.
    override func drain(endpointID: String, at deadline: Int64) {
        let leaving = self.sessions.values.filter { $0.endpointID == endpointID }
        guard !leaving.isEmpty, let loop = self.loop else { return }
        loop.schedule(at: deadline) {
            for session in leaving { session.end(reason: "drained") }
        }
    }

    /// `session` ended: settles the counts it held.
    func ended(_ session: UDPSession) {
        if self.sessions[session.key] === session { self.sessions[session.key] = nil }
        self.runtime.stats.closed(loop: session.loopIndex)
        self.runtime.udpSessions.wrappingDecrement(ordering: .relaxed)
        self.limits.processSessions.wrappingDecrement(ordering: .relaxed)
        self.loop?.retire(session)
    }

    /// Ends sessions idle for the idle timeout, every quarter of it (at least every 100 ms).
    private func scheduleSweep(_ loop: FlowLoop) {
        let idle = self.limits.idleTimeout.nanoseconds
        let interval = max(idle / 4, 100_000_000)
        loop.schedule(at: loop.now + interval) { [weak self] in
            guard let self, self.attached, let loop = self.loop else { return }
            let cutoff = loop.now - idle
            for session in Array(self.sessions.values) where session.lastActivity < cutoff { session.end(reason: "idle_timeout") }
            self.scheduleSweep(loop)
        }
    }
}

/// A client of a UDP listener: its address and port.
struct UDPClientKey: Hashable {
    var address: IPAddress
    var port: UInt16

    init?(_ storage: sockaddr_storage) {
        guard let address = IPAddress(storage) else { return nil }
        var storage = storage
        // sin_port and sin6_port sit at the same offset.
        self.port = UInt16(bigEndian: withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self).sin_port })
        self.address = address
    }
}

/// One client's UDP session: a socket connected to its endpoint, registered with the listener's loop.
final class UDPSession: LoopSource {
    let key: UDPClientKey
    private let fd: Int32
    private var client: sockaddr_storage
    private let endpoint: PlannedEndpoint
    /// Sessions end before their listener is detached, and the loop keeps both until the end of that turn.
    private unowned(unsafe) let listener: UDPListenerSocket
    private var log: FlowLog?
    /// The loop's clock at the last datagram either way that was carried.
    private(set) var lastActivity: Int64
    private var ended = false
    private var kernelDrops = ReceiveBufferDrops()
    /// The loop's index, for its slots of the counters.
    let loopIndex: Int

    var endpointID: String { self.endpoint.id }

    init(
        fd: Int32,
        key: UDPClientKey,
        client: sockaddr_storage,
        endpoint: PlannedEndpoint,
        listener: UDPListenerSocket,
        log: FlowLog?,
        now: Int64,
        loopIndex: Int
    ) {
        self.loopIndex = loopIndex
        self.fd = fd
        self.key = key
        self.client = client
        self.endpoint = endpoint
        self.listener = listener
        self.log = log
        self.lastActivity = now
    }

    /// Sends a client's datagram to the endpoint. A datagram that does not leave is dropped and counted: one that
    /// finds the socket's buffer full, and one whose send fails for an error of the socket (an ICMP error of an
    /// earlier datagram), which also ends the session.
    func send(_ datagram: UnsafeRawBufferPointer) {
        guard !self.ended else { return }
        let sent = Glibc.send(self.fd, datagram.baseAddress, datagram.count, 0)
        guard sent >= 0 else {
            let code = errno
            self.listener.runtime.stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            if code != EAGAIN && code != EWOULDBLOCK && code != ENOBUFS { self.fail() }
            return
        }
        self.lastActivity = self.listener.loop?.now ?? self.lastActivity
        let bytes = datagram.count
        self.endpoint.stats.bytesIn.add(bytes, loop: self.loopIndex)
        self.listener.runtime.stats.bytesIn.add(bytes, loop: self.loopIndex)
        self.log?.bytesIn.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// Replies from the endpoint: a batch of them goes to the client from the listener's socket in one call.
    override func handle(events: UInt32, tag: Int) {
        guard !self.ended, let loop = self.listener.loop else { return }
        let batch = loop.datagramBatch
        let count = cslipstream_batch_receive(batch, self.fd)
        guard count > 0 else {
            let code = errno
            if count < 0 && code != EAGAIN && code != EWOULDBLOCK && code != EINTR { self.fail() }
            return
        }
        let dropped = self.kernelDrops.new(in: batch, received: count)
        if dropped > 0 {
            self.listener.runtime.stats.receiveBufferDrops.wrappingIncrement(by: dropped, ordering: .relaxed)
            self.endpoint.stats.receiveBufferDrops.wrappingIncrement(by: dropped, ordering: .relaxed)
        }
        let length = socklen_t(self.client.ss_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        withUnsafePointer(to: &self.client) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cslipstream_batch_send(batch, self.listener.fd, UInt32(count), $0, length) }
        }
        var bytes = 0
        var carried = false
        for index in 0..<UInt32(count) {
            let sent = cslipstream_batch_sent(batch, index)
            if sent >= 0 {
                bytes += sent
                carried = true
            } else {
                // Longer than a datagram buffer (-2), or the listener's socket refused it (-1): dropped, counted.
                self.listener.runtime.stats.droppedDatagrams.wrappingIncrement(ordering: .relaxed)
            }
        }
        guard carried else { return }
        self.lastActivity = loop.now
        self.listener.runtime.stats.bytesOut.add(bytes, loop: self.loopIndex)
        self.endpoint.stats.bytesOut.add(bytes, loop: self.loopIndex)
        self.log?.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// The endpoint socket failed: end the session now, so the client's next datagram opens a fresh one instead of
    /// feeding a dead socket until the idle timeout.
    private func fail() {
        self.listener.runtime.stats.sessionErrors.wrappingIncrement(ordering: .relaxed)
        self.end(reason: "endpoint_error")
    }

    func end(reason: String) {
        guard !self.ended else { return }
        self.ended = true
        close(self.fd)
        self.endpoint.stats.closed(loop: self.loopIndex)
        self.log?.finish(endpoint: self.endpoint, end: reason)
        self.log = nil
        self.listener.ended(self)
    }
}

/// A non-blocking UDP socket connected to `address` at `port`, prepared by `limits`.
/// - Throws: ``SocketError`` from `socket`, `setsockopt` or `connect`.
private func connectedDatagramSocket(to address: SocketAddress, port: Int, limits: UDPLimits) throws -> Int32 {
    var storage = sockaddr_storage()
    let length = withSocketAddress(address, port: port, into: &storage)
    let fd = socket(Int32(storage.ss_family), Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw SocketError("socket", errno) }
    do {
        try limits.prepare(fd)
    } catch {
        close(fd)
        throw error
    }
    let result = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
    guard result == 0 else {
        let code = errno
        close(fd)
        throw SocketError("connect", code)
    }
    return fd
}

/// Bounds on UDP sessions and the settings of every UDP socket. Each session holds one socket (a descriptor) and
/// a table entry.
struct UDPLimits: Sendable {
    var idleTimeout: TimeAmount
    /// Sessions per listener, over all its sockets.
    var maxSessionsPerListener: Int
    /// Sessions of the whole process; shared by every listener through `processSessions`.
    var maxSessionsPerProcess: Int
    let processSessions: ManagedAtomic<Int>
    /// `SO_RCVBUF` in bytes for every UDP socket (listener and session), or nil for the kernel's default
    /// (`net.core.rmem_default`). The kernel caps it at `net.core.rmem_max`, then doubles it for its bookkeeping.
    var receiveBufferBytes: Int? = nil

    /// Sets the options of a new UDP socket: the receive buffer, and `SO_RXQ_OVFL`, so received datagrams carry the
    /// socket's count of datagrams the kernel dropped for a full buffer.
    /// - Throws: ``SocketError`` from `setsockopt`.
    func prepare(_ fd: Int32) throws {
        try setOption(fd, SOL_SOCKET, SO_RXQ_OVFL, 1)
        if let bytes = self.receiveBufferBytes { try setOption(fd, SOL_SOCKET, SO_RCVBUF, Int32(clamping: bytes)) }
    }
}

/// What one UDP socket has reported of the kernel's drops (`SO_RXQ_OVFL`, socket(7)): once the socket has dropped
/// a datagram, each datagram it queues carries its cumulative, wrapping 32-bit count of drops (mostly for a full
/// receive buffer). The count a datagram carries is read as it is queued, so on a machine with several NUMA nodes
/// one may carry a count older than its predecessor's; such a count adds nothing.
struct ReceiveBufferDrops {
    private var reported: UInt32 = 0

    /// The drops reported by a batch of this socket since its earlier batches: 0 when the batch carries no count or
    /// one not ahead of what was reported (counts are compared as wrapping sequence numbers).
    mutating func new(in batch: OpaquePointer, received: Int32) -> Int {
        self.advance(to: cslipstream_batch_drop_count(batch, UInt32(received)))
    }

    /// The drops since the last report, given the count a batch's latest datagram carried (-1: none).
    mutating func advance(to latest: Int64) -> Int {
        guard latest >= 0 else { return 0 }
        let current = UInt32(truncatingIfNeeded: latest)
        let ahead = Int32(bitPattern: current &- self.reported)
        guard ahead > 0 else { return 0 }
        self.reported = current
        return Int(ahead)
    }
}
