import Atomics
import CSlipstreamLinux
import DequeModule
import Glibc
import HeapModule
import Logging
import NIOConcurrencyHelpers

/// Something with descriptors registered in a ``FlowLoop``'s epoll set. The loop passes each readiness event to
/// `handle(events:tag:)` with the low bits of the registration (`tag`, 0–15) that the source chose.
class LoopSource {
    func handle(events: UInt32, tag: Int) {}
}

/// One forwarding thread with its own epoll set: it accepts TCP connections on its listening sockets (one per
/// port per loop, `SO_REUSEPORT`), dials endpoints and splices bytes between the two sockets of each flow with
/// `read(2)`/`write(2)`, and carries the datagrams of its UDP sockets and their sessions, all on this thread.
/// Nothing of a flow is shared with another thread except the listener's plan (one atomic load per new flow or
/// session) and the counters.
///
/// Sockets of flows are registered edge-triggered for input, output and peer half-close once, for their whole life
/// (no `epoll_ctl` per read or write); the flow remembers which side is readable or writable until a read or write
/// says otherwise. A short read or write means the socket is drained or full: the next edge wakes the flow again.
///
/// Other threads talk to a loop only through ``submit(_:)``: a command queue under a lock and an `eventfd` wake-up.
final class FlowLoop: @unchecked Sendable {
    enum Command {
        case addListener(ListeningSocket)
        case removeListener(ListeningSocket, done: @Sendable () -> Void)
        /// Close the TCP flows and end the UDP sessions of an endpoint that are open now, once `afterNanoseconds`
        /// have passed.
        case drain(endpointID: String, afterNanoseconds: Int64)
        case stop(done: @Sendable () -> Void)
    }

    /// The loop's position among its forwarder's loops: its balancing state in each ``ListenerRuntime``.
    let index: Int
    let openFlows: ManagedAtomic<Int>
    let logger: Logger
    private let epoll: Int32
    private let wakeup: Int32
    private let commands = NIOLockedValueBox<[Command]>([])

    // Everything below is touched only on the loop's thread.
    /// Monotonic clock at the start of this turn of the loop, in nanoseconds.
    private(set) var now: Int64 = 0
    private var flows: [UInt64: TCPFlow] = [:]
    private var nextFlowID: UInt64 = 0
    private var listeners: [ObjectIdentifier: ListeningSocket] = [:]
    /// Flows whose last turn stopped at its read budget while bytes were still waiting: they run again next turn.
    private var again: [TCPFlow] = []
    /// Sources that finished during this turn, kept alive until its events are all handled (a later event of the
    /// same turn may still name them).
    private var graveyard: [LoopSource] = []
    /// Connect deadlines in the order they were set (every attempt has the same timeout): (deadline, flow, attempt).
    private var connectDeadlines = Deque<(deadline: Int64, flow: UInt64, attempt: Int)>()
    private var timers = Heap<Timer>()
    private var timerSequence = 0
    private var buffers: [UnsafeMutableRawBufferPointer] = []
    private var datagrams: OpaquePointer?
    private var stopping = false

    /// Bytes one flow moves per read (per direction); a flow holds a buffer only while bytes are in it.
    static let bufferSize = 65_536
    /// Free buffers a loop keeps for reuse.
    private static let keptBuffers = 32

    private struct Timer: Comparable {
        var deadline: Int64
        var sequence: Int
        var action: () -> Void

        static func < (lhs: Timer, rhs: Timer) -> Bool { (lhs.deadline, lhs.sequence) < (rhs.deadline, rhs.sequence) }
        static func == (lhs: Timer, rhs: Timer) -> Bool { (lhs.deadline, lhs.sequence) == (rhs.deadline, rhs.sequence) }
    }

    /// - Throws: ``SocketError`` when the kernel gives no epoll set or eventfd.
    init(index: Int, openFlows: ManagedAtomic<Int>, logger: Logger) throws {
        self.index = index
        self.openFlows = openFlows
        self.logger = logger
        self.epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard self.epoll >= 0 else { throw SocketError("epoll_create1", errno) }
        self.wakeup = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard self.wakeup >= 0 else {
            let code = errno
            close(self.epoll)
            throw SocketError("eventfd", code)
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = 0
        epoll_ctl(self.epoll, EPOLL_CTL_ADD, self.wakeup, &event)
    }

    deinit {
        close(self.wakeup)
        close(self.epoll)
    }

    /// Runs `command` on the loop's thread. Callable from any thread.
    func submit(_ command: Command) {
        self.commands.withLockedValue { $0.append(command) }
        var one: UInt64 = 1
        _ = write(self.wakeup, &one, 8)
    }

    /// Starts the loop's thread, named `name`.
    func start(name: String) {
        startThread(name: name) { self.run() }
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while !self.stopping {
            let timeout = self.again.isEmpty ? self.nextTimeoutMilliseconds() : 0
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(self.epoll, $0.baseAddress, Int32($0.count), timeout) }
            self.now = monotonicNanoseconds()
            if count < 0 && errno != EINTR {
                self.logger.critical("epoll_wait failed; the flow loop stops", metadata: ["errno": "\(errno)"])
                break
            }
            let runAgain = self.again
            self.again.removeAll(keepingCapacity: true)
            for flow in runAgain { flow.resume() }
            for i in 0..<max(Int(count), 0) {
                let data = events[i].data.u64
                if data == 0 {
                    self.runCommands()
                    continue
                }
                let tag = Int(data & 0xF)
                let source = Unmanaged<LoopSource>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(data & ~0xF))!).takeUnretainedValue()
                source.handle(events: events[i].events, tag: tag)
            }
            self.fireTimers()
            self.graveyard.removeAll(keepingCapacity: true)
        }
        self.shutDown()
    }

    private func runCommands() {
        var value: UInt64 = 0
        _ = read(self.wakeup, &value, 8)
        let pending = self.commands.withLockedValue { commands in
            defer { commands.removeAll() }
            return commands
        }
        for command in pending {
            switch command {
            case .addListener(let listener):
                self.listeners[ObjectIdentifier(listener)] = listener
                listener.attach(to: self)
            case .removeListener(let listener, let done):
                if self.listeners.removeValue(forKey: ObjectIdentifier(listener)) != nil {
                    listener.detach()
                    self.graveyard.append(listener)
                }
                done()
            case .drain(let endpointID, let after):
                for listener in self.listeners.values { listener.drain(endpointID: endpointID, at: self.now + after) }
                let ids = self.flows.values.filter { $0.endpointID == endpointID }.map(\.id)
                guard !ids.isEmpty else { continue }
                self.schedule(at: self.now + after) {
                    for id in ids { self.flows[id]?.close() }
                }
            case .stop(let done):
                self.stopping = true
                self.stopped = done
            }
        }
    }

    private var stopped: (@Sendable () -> Void)?

    private func shutDown() {
        for listener in self.listeners.values { listener.detach() }
        self.listeners.removeAll()
        for flow in Array(self.flows.values) { flow.close() }
        self.graveyard.removeAll()
        for buffer in self.buffers { buffer.deallocate() }
        self.buffers.removeAll()
        cslipstream_batch_destroy(self.datagrams)
        self.datagrams = nil
        self.stopped?()
    }

    // MARK: Registration

    /// Adds `fd` to the epoll set for `events`, reported to `source` with `tag` (0–15).
    /// - Throws: ``SocketError`` from `epoll_ctl`.
    func register(_ fd: Int32, events: UInt32, source: LoopSource, tag: Int) throws {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt(bitPattern: Unmanaged.passUnretained(source).toOpaque())) | UInt64(tag & 0xF)
        guard epoll_ctl(self.epoll, EPOLL_CTL_ADD, fd, &event) == 0 else { throw SocketError("epoll_ctl", errno) }
    }

    /// Changes the events `fd` is registered for.
    func modify(_ fd: Int32, events: UInt32, source: LoopSource, tag: Int) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt(bitPattern: Unmanaged.passUnretained(source).toOpaque())) | UInt64(tag & 0xF)
        epoll_ctl(self.epoll, EPOLL_CTL_MOD, fd, &event)
    }

    func unregister(_ fd: Int32) {
        var event = epoll_event()
        epoll_ctl(self.epoll, EPOLL_CTL_DEL, fd, &event)
    }

    // MARK: Flows

    /// Takes a connection `fd` accepted by `listener` from `client`.
    func accepted(_ fd: Int32, from client: sockaddr_storage, listener: TCPListenerSocket) {
        self.nextFlowID &+= 1
        let flow = TCPFlow(id: self.nextFlowID, fd: fd, listener: listener, loop: self)
        self.flows[flow.id] = flow
        flow.start(client: client)
    }

    /// `flow` is over: forget it at the end of this turn.
    func finished(_ flow: TCPFlow) {
        if self.flows.removeValue(forKey: flow.id) != nil { self.graveyard.append(flow) }
    }

    /// Keeps `source`, whose descriptors were just closed, alive until the end of this turn.
    func retire(_ source: LoopSource) {
        self.graveyard.append(source)
    }

    /// `flow` stopped at its budget with bytes still waiting; it continues next turn.
    func runAgain(_ flow: TCPFlow) {
        self.again.append(flow)
    }

    /// Fails `attempt` of flow `id` if it is still connecting it at `deadline`.
    func connectDeadline(_ deadline: Int64, flow id: UInt64, attempt: Int) {
        self.connectDeadlines.append((deadline, id, attempt))
    }

    /// Runs `action` on this loop at `deadline` (monotonic nanoseconds) or soon after.
    func schedule(at deadline: Int64, _ action: @escaping () -> Void) {
        self.timerSequence += 1
        self.timers.insert(Timer(deadline: deadline, sequence: self.timerSequence, action: action))
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        var next = Int64.max
        if let first = self.connectDeadlines.first { next = first.deadline }
        if let timer = self.timers.min, timer.deadline < next { next = timer.deadline }
        guard next != .max else { return -1 }
        let wait = (next - monotonicNanoseconds() + 999_999) / 1_000_000
        return Int32(clamping: max(wait, 0))
    }

    private func fireTimers() {
        while let first = self.connectDeadlines.first, first.deadline <= self.now {
            self.connectDeadlines.removeFirst()
            self.flows[first.flow]?.connectTimedOut(attempt: first.attempt)
        }
        while let timer = self.timers.min, timer.deadline <= self.now {
            self.timers.removeMin().action()
        }
    }

    // MARK: Buffers

    /// Where this loop's UDP sockets receive, one `recvmmsg` at a time: ``datagramsPerBatch`` slots of
    /// ``datagramBufferSize`` bytes (a `cslipstream_datagram_batch`), whose datagrams are sent on before the next
    /// call. Allocated on first use; only the pages datagrams are written to become resident.
    var datagramBatch: OpaquePointer {
        if let batch = self.datagrams { return batch }
        guard let batch = cslipstream_batch_create(UInt32(datagramsPerBatch), datagramBufferSize) else {
            fatalError("no memory for the loop's datagram batch")
        }
        self.datagrams = batch
        return batch
    }

    func takeBuffer() -> UnsafeMutableRawBufferPointer {
        self.buffers.popLast() ?? .allocate(byteCount: Self.bufferSize, alignment: 16)
    }

    func giveBack(_ buffer: UnsafeMutableRawBufferPointer) {
        if self.buffers.count < Self.keptBuffers {
            self.buffers.append(buffer)
        } else {
            buffer.deallocate()
        }
    }
}

/// A failed system call: its name and `errno`.
struct SocketError: Error, CustomStringConvertible {
    var call: String
    var code: Int32

    init(_ call: String, _ code: Int32) {
        self.call = call
        self.code = code
    }

    var description: String { "\(self.call): \(String(cString: strerror(self.code))) (errno: \(self.code))" }
}

/// CLOCK_MONOTONIC in nanoseconds.
func monotonicNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// Starts a detached thread named `name` (cut to 15 bytes) running `body`.
private func startThread(name: String, _ body: @escaping () -> Void) {
    final class Box {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread,
        nil,
        { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            cslipstream_set_thread_name(box.name)
            box.body()
            return nil
        },
        box
    )
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}
