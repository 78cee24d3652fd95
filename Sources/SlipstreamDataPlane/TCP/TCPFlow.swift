import Atomics
import CSlipstreamLinux
import Glibc
import NIOCore
import SlipstreamModel

/// One TCP flow on a ``FlowLoop``: the accepted client socket, the endpoint socket once dialled, and the bytes
/// between them. Decisions until the splice are ``TCPFlowStateMachine``'s; after it the flow moves bytes both ways:
///
/// - A read fills the direction's buffer (up to ``FlowLoop/bufferSize`` bytes) only when it is empty, so a side
///   that cannot take more stops the other side's reads (backpressure).
/// - End of input (a FIN) becomes `shutdown(SHUT_WR)` of the other side once the buffered bytes are written: a
///   half-close stays a half-close.
/// - A reset or a failed write on one side (`ECONNRESET`, `EPIPE`) resets the other side (`SO_LINGER` 0, then
///   `close`; RFC 9293 §3.10.5's abort) right after writing what of the bytes buffered towards it its socket takes
///   now, so a truncated stream never looks complete and a side that reads nothing cannot hold the flow open.
/// - The flow ends when both directions are shut or one side was reset; then both sockets are closed.
///
/// Touched only on its loop's thread.
final class TCPFlow: LoopSource {
    let id: UInt64
    private let client: Int32
    private var endpointSocket: Int32 = -1
    private let listener: TCPListenerSocket
    /// The loop outlives its flows (it keeps each one until the end of the turn it finished in), so the reference
    /// needs no reference counting.
    private unowned(unsafe) let loop: FlowLoop
    private var machine = TCPFlowStateMachine()
    private var plan: ListenerPlan?
    private var targets: [FlowTarget] = []
    private var log: FlowLog?
    /// The endpoint the flow is spliced to.
    private var endpoint: PlannedEndpoint?
    /// Whether the flow counts in the listener's open flows.
    private var counted = false
    private var tracked = false
    private var clientRegistered = false
    private var ended = false

    private var clientReadable = false
    private var clientWritable = false
    private var endpointReadable = false
    private var endpointWritable = false
    /// An event reported the peer's FIN, a hang-up or an error: a short read or write no longer means the socket
    /// is drained or full (the FIN or the error may already be queued behind the bytes, and no new edge would
    /// come for it), so reads and writes go on until the kernel says `EAGAIN`, end of file or the error.
    private var clientClosing = false
    private var endpointClosing = false
    /// Client to endpoint, and endpoint to client.
    private var up = Direction()
    private var down = Direction()

    private enum Side { case client, endpoint }

    private struct Direction {
        var buffer: UnsafeMutableRawBufferPointer?
        var start = 0
        var end = 0
        /// The source sent its FIN.
        var finished = false
        /// The destination was half-closed after that FIN.
        var shut = false
        /// Bytes read and not yet added to the counters.
        var unreported = 0
        var isEmpty: Bool { self.start == self.end }
    }

    private enum Outcome {
        case idle
        /// The read budget of this turn is spent while more may be waiting.
        case budgetSpent
        case sourceFailed
        case destinationFailed
    }

    /// Reads per direction in one turn of the loop before other flows get theirs.
    private static let readsPerTurn = 16
    private static let flowEvents = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue
    /// The events after which a read returns bytes, an end of stream or an error rather than `EAGAIN`.
    private static let inputEvents = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
    private static let clientTag = 0
    /// Endpoint sockets carry their attempt number, so an event of an attempt's socket that was closed in the same
    /// turn is not taken for the next attempt's.
    private static func endpointTag(_ attempt: Int) -> Int { 1 + (attempt % 15) }

    init(id: UInt64, fd: Int32, listener: TCPListenerSocket, loop: FlowLoop) {
        self.id = id
        self.client = fd
        self.listener = listener
        self.loop = loop
    }

    /// The endpoint the flow is spliced to, or is being dialled (for draining).
    var endpointID: String? {
        if let endpoint = self.endpoint { return endpoint.id }
        if case .connecting(let attempt, _) = self.machine.state { return self.planned(self.targets[attempt]).id }
        return nil
    }

    // MARK: Before the splice

    func start(client address: sockaddr_storage) {
        let runtime = self.listener.runtime
        let plan = runtime.current
        self.plan = plan
        let clientIP = IPAddress(address)
        let admitted = plan.admits(clientIP)
        if admitted { self.targets = runtime.choose(in: plan, client: clientIP, loopIndex: self.loop.index) }
        self.log = self.listener.flowLog(plan: plan, proto: .tcp, client: address)
        if admitted {
            runtime.stats.opened(loop: self.loop.index)
            self.counted = true
        }
        self.perform(self.machine.clientConnected(admitted: admitted, targets: self.targets.count))
    }

    private func perform(_ action: TCPFlowStateMachine.Action) {
        switch action {
        case .none, .discardEndpoint:
            break
        case .refuse(let refusal):
            self.log?.finish(endpoint: self.targets.last.map { self.planned($0) }, end: refusal.rawValue)
            self.log = nil
            let stats = self.listener.runtime.stats
            switch refusal {
            case .denied:
                stats.denied.wrappingIncrement(ordering: .relaxed)
                self.end(resetClient: false)
            case .noEndpoint, .connectFailed:
                stats.refused.wrappingIncrement(ordering: .relaxed)
                self.end(resetClient: true)
            }
        case .connect(let attempt):
            if !self.clientRegistered {
                do {
                    try self.loop.register(self.client, events: Self.flowEvents, source: self, tag: Self.clientTag)
                    self.clientRegistered = true
                } catch {
                    self.machine.clientClosed()
                    self.end(resetClient: true)
                    return
                }
            }
            self.connect(attempt: attempt)
        case .splice(let attempt):
            self.splice(attempt: attempt)
        }
    }

    private func planned(_ target: FlowTarget) -> PlannedEndpoint {
        self.plan!.groups[target.group].endpoints[target.endpoint]
    }

    private func connect(attempt: Int) {
        let endpoint = self.planned(self.targets[attempt])
        guard let base = endpoint.address else {
            self.perform(self.machine.connectFailed(attempt: attempt))
            return
        }
        var address = sockaddr_storage()
        let length = withSocketAddress(base, port: self.listener.port, into: &address)
        let fd = socket(Int32(address.ss_family), Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            self.connectFailed(attempt: attempt, endpoint: endpoint, error: SocketError("socket", errno))
            return
        }
        _ = try? setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let result = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) } }
        let code = errno
        guard result == 0 || code == EINPROGRESS else {
            Glibc.close(fd)
            self.connectFailed(attempt: attempt, endpoint: endpoint, error: SocketError("connect", code))
            return
        }
        do {
            try self.loop.register(fd, events: Self.flowEvents, source: self, tag: Self.endpointTag(attempt))
        } catch {
            Glibc.close(fd)
            self.connectFailed(attempt: attempt, endpoint: endpoint, error: error)
            return
        }
        self.endpointSocket = fd
        self.loop.connectDeadline(self.loop.now + self.listener.connectTimeout, flow: self.id, attempt: attempt)
    }

    private func connectFailed(attempt: Int, endpoint: PlannedEndpoint, error: any Error) {
        endpoint.stats.connectFailures.wrappingIncrement(ordering: .relaxed)
        self.listener.runtime.stats.connectFailures.wrappingIncrement(ordering: .relaxed)
        self.loop.logger.debug("endpoint connect failed", metadata: ["endpoint_id": "\(endpoint.id)", "error": "\(error)"])
        self.perform(self.machine.connectFailed(attempt: attempt))
    }

    /// The connect timeout of `attempt` passed.
    func connectTimedOut(attempt: Int) {
        guard case .connecting(let current, _) = self.machine.state, current == attempt else { return }
        self.closeEndpointSocket()
        self.connectFailed(attempt: attempt, endpoint: self.planned(self.targets[attempt]), error: SocketError("connect", ETIMEDOUT))
    }

    private func connectFinished(attempt: Int, events: UInt32) {
        var error: Int32 = 0
        // An output edge without an error or hang-up is a completed connect; only the others need the socket's error.
        if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 || events & EPOLLOUT.rawValue == 0 {
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(self.endpointSocket, SOL_SOCKET, SO_ERROR, &error, &length)
        }
        if error == 0 && events & EPOLLOUT.rawValue != 0 {
            self.endpointClosing = events & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
            // Edge-triggered: bytes the endpoint sends later bring an input edge of their own, so an endpoint whose
            // connect edge carries no input has nothing to read yet (a read now would only return EAGAIN).
            self.endpointReadable = events & Self.inputEvents != 0
            self.perform(self.machine.connectSucceeded(attempt: attempt))
        } else if error != 0 || events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
            self.closeEndpointSocket()
            self.connectFailed(attempt: attempt, endpoint: self.planned(self.targets[attempt]), error: SocketError("connect", error))
        }
    }

    private func splice(attempt: Int) {
        let endpoint = self.planned(self.targets[attempt])
        self.endpoint = endpoint
        endpoint.stats.opened(loop: self.loop.index)
        self.tracked = true
        self.loop.openFlows.wrappingIncrement(ordering: .relaxed)
        // What the client sent while the endpoint was dialled waits in its socket; its input edge set
        // `clientReadable` then, and `connectFinished` set `endpointReadable`.
        self.clientWritable = true
        self.endpointWritable = true
        self.resume()
    }

    // MARK: Events

    override func handle(events: UInt32, tag: Int) {
        guard !self.ended else { return }
        switch self.machine.state {
        case .connecting(let attempt, _):
            if tag == Self.clientTag {
                // A client that went away entirely (a reset) ends the flow; a FIN alone is a half-close, carried to
                // the endpoint after the splice.
                if events & EPOLLRDHUP.rawValue != 0 { self.clientClosing = true }
                if events & Self.inputEvents != 0 { self.clientReadable = true }
                if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 {
                    self.machine.clientClosed()
                    self.end(resetClient: false)
                }
            } else if tag == Self.endpointTag(attempt) {
                self.connectFinished(attempt: attempt, events: events)
            }
        case .spliced:
            let readable = events & Self.inputEvents != 0
            let writable = events & (EPOLLOUT.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
            let closing = events & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
            if tag == Self.clientTag {
                self.clientReadable = self.clientReadable || readable
                self.clientWritable = self.clientWritable || writable
                self.clientClosing = self.clientClosing || closing
            } else {
                self.endpointReadable = self.endpointReadable || readable
                self.endpointWritable = self.endpointWritable || writable
                self.endpointClosing = self.endpointClosing || closing
            }
            self.resume()
        case .idle, .closed:
            break
        }
    }

    /// Moves what can be moved now, both ways, and ends the flow when both directions are done.
    func resume() {
        guard !self.ended, self.machine.state == .spliced else { return }
        let endpoint = self.endpointSocket
        let upOutcome = Self.transfer(
            &self.up,
            from: self.client,
            to: endpoint,
            readable: &self.clientReadable,
            writable: &self.endpointWritable,
            trustShortCounts: !self.clientClosing && !self.endpointClosing,
            loop: self.loop
        )
        let downOutcome = Self.transfer(
            &self.down,
            from: endpoint,
            to: self.client,
            readable: &self.endpointReadable,
            writable: &self.clientWritable,
            trustShortCounts: !self.clientClosing && !self.endpointClosing,
            loop: self.loop
        )
        self.report()
        switch (upOutcome, downOutcome) {
        case (.sourceFailed, _), (_, .destinationFailed):
            self.abort(failed: .client)
        case (.destinationFailed, _), (_, .sourceFailed):
            self.abort(failed: .endpoint)
        case (.budgetSpent, _), (_, .budgetSpent):
            self.loop.runAgain(self)
        case (.idle, .idle):
            if self.up.shut && self.down.shut { self.end(resetClient: false) }
        }
    }

    /// Writes what `direction` holds to `destination`, then reads `source` into it, until neither can go on. With
    /// `trustShortCounts`, a short read or write ends the socket's readiness until its next edge (saving the call
    /// that would return `EAGAIN`).
    private static func transfer(
        _ direction: inout Direction,
        from source: Int32,
        to destination: Int32,
        readable: inout Bool,
        writable: inout Bool,
        trustShortCounts: Bool,
        loop: FlowLoop
    ) -> Outcome {
        var reads = 0
        var outcome = Outcome.idle
        while true {
            if !direction.isEmpty {
                guard writable, let buffer = direction.buffer else { break }
                let pending = direction.end - direction.start
                let written = write(destination, buffer.baseAddress! + direction.start, pending)
                if written > 0 {
                    direction.start += written
                    if direction.isEmpty {
                        direction.start = 0
                        direction.end = 0
                    } else if trustShortCounts {
                        // A short write: the socket's send buffer is full until its next output edge.
                        writable = false
                    }
                    continue
                }
                if written < 0 && errno == EINTR { continue }
                if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    writable = false
                    break
                }
                outcome = .destinationFailed
                break
            }
            guard !direction.finished, readable else { break }
            guard reads < Self.readsPerTurn else {
                outcome = .budgetSpent
                break
            }
            reads += 1
            let buffer = direction.buffer ?? loop.takeBuffer()
            direction.buffer = buffer
            let count = read(source, buffer.baseAddress!, buffer.count)
            if count > 0 {
                direction.end = count
                direction.unreported += count
                // A short read: the socket is drained until its next input edge.
                if count < buffer.count && trustShortCounts { readable = false }
                continue
            }
            if count == 0 {
                direction.finished = true
                break
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                readable = false
                break
            }
            outcome = .sourceFailed
            break
        }
        if direction.isEmpty, let buffer = direction.buffer {
            loop.giveBack(buffer)
            direction.buffer = nil
        }
        if outcome == .idle && direction.finished && direction.isEmpty && !direction.shut {
            direction.shut = true
            shutdown(destination, Int32(SHUT_WR))
        }
        return outcome
    }

    /// Adds the bytes read since the last report to the listener's, the endpoint's and the access log's counters.
    private func report() {
        if self.up.unreported > 0 {
            let bytes = self.up.unreported
            self.up.unreported = 0
            self.listener.runtime.stats.bytesIn.add(bytes, loop: self.loop.index)
            self.endpoint?.stats.bytesIn.add(bytes, loop: self.loop.index)
            self.log?.bytesIn.wrappingIncrement(by: bytes, ordering: .relaxed)
        }
        if self.down.unreported > 0 {
            let bytes = self.down.unreported
            self.down.unreported = 0
            self.listener.runtime.stats.bytesOut.add(bytes, loop: self.loop.index)
            self.endpoint?.stats.bytesOut.add(bytes, loop: self.loop.index)
            self.log?.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
        }
    }

    /// `failed` was reset or can no longer be written: nothing more goes to it; the other side gets what of the
    /// bytes buffered towards it its socket takes now, then a reset.
    private func abort(failed: Side) {
        let standing: Side = failed == .client ? .endpoint : .client
        // No FIN goes to the standing side before its reset: a FIN would make a truncated stream look complete.
        if failed == .client {
            self.up.finished = true
            self.up.shut = true
            self.down = self.release(self.down)
        } else {
            self.down.finished = true
            self.down.shut = true
            self.up = self.release(self.up)
        }
        self.finishAbort(towards: standing)
    }

    private func finishAbort(towards side: Side) {
        var readable = false
        if side == .endpoint {
            _ = Self.transfer(
                &self.up,
                from: self.client,
                to: self.endpointSocket,
                readable: &readable,
                writable: &self.endpointWritable,
                trustShortCounts: false,
                loop: self.loop
            )
        } else {
            _ = Self.transfer(
                &self.down,
                from: self.endpointSocket,
                to: self.client,
                readable: &readable,
                writable: &self.clientWritable,
                trustShortCounts: false,
                loop: self.loop
            )
        }
        // No waiting for the rest: a side that reads nothing would keep the flow open forever (a direct connection
        // would have passed the reset on at once).
        if side == .endpoint {
            abortSocket(self.endpointSocket)
            self.endpointSocket = -1
        }
        self.end(resetClient: side == .client)
    }

    private func release(_ direction: Direction) -> Direction {
        if let buffer = direction.buffer { self.loop.giveBack(buffer) }
        var emptied = direction
        emptied.buffer = nil
        emptied.start = 0
        emptied.end = 0
        return emptied
    }

    // MARK: The end

    /// Closes the flow from outside (drain timeout, shutdown): both sockets with a reset, so a transfer cut off
    /// here does not look complete to either side.
    func close() {
        guard !self.ended else { return }
        self.machine.clientClosed()
        abortSocket(self.endpointSocket)
        self.endpointSocket = -1
        self.end(resetClient: true)
    }

    private func closeEndpointSocket() {
        guard self.endpointSocket >= 0 else { return }
        Glibc.close(self.endpointSocket)
        self.endpointSocket = -1
    }

    /// Closes both sockets (the client's with a reset when `resetClient`), settles the counters and the access log,
    /// and hands the flow back to its loop.
    private func end(resetClient: Bool) {
        guard !self.ended else { return }
        self.ended = true
        self.report()
        if resetClient { abortSocket(self.client) } else { Glibc.close(self.client) }
        self.closeEndpointSocket()
        self.up = self.release(self.up)
        self.down = self.release(self.down)
        if self.counted { self.listener.runtime.stats.closed(loop: self.loop.index) }
        if let endpoint = self.endpoint {
            endpoint.stats.closed(loop: self.loop.index)
            self.log?.finish(endpoint: endpoint, end: "closed")
        }
        if self.tracked { self.loop.openFlows.wrappingDecrement(ordering: .relaxed) }
        self.log = nil
        self.loop.finished(self)
    }
}

/// Closes `fd` with a TCP reset instead of a FIN: `SO_LINGER` on with a zero timeout, then `close` (the abort of
/// RFC 9293 §3.10.5).
func abortSocket(_ fd: Int32) {
    guard fd >= 0 else { return }
    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    close(fd)
}
