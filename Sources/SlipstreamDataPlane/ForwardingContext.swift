import Atomics
import Logging
import NIOCore

/// What the handlers of one listener socket share.
struct ForwardingContext: Sendable {
    let runtime: ListenerRuntime
    let flows: FlowTracker
    let accessLog: AccessLogWriter?
    let connectTimeout: TimeAmount
    let udp: UDPLimits
    let logger: Logger
}

/// Bounds on UDP sessions. Each session holds one socket (a descriptor) and a table entry.
struct UDPLimits: Sendable {
    var idleTimeout: TimeAmount
    /// Sessions per listener, over all its sockets.
    var maxSessionsPerListener: Int
    /// Sessions of the whole process; shared by every listener through `processSessions`.
    var maxSessionsPerProcess: Int
    let processSessions: ManagedAtomic<Int>
    /// Datagrams held per session while its endpoint socket is being set up.
    var maxQueuedDatagrams = 16
}
