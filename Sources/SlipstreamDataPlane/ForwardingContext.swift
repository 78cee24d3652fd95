import Atomics
import Logging
import NIOCore
import NIOPosix

/// What the handlers of one UDP listener socket share. Each socket lives on one event loop.
struct ForwardingContext: Sendable {
    let runtime: ListenerRuntime
    let accessLog: AccessLogWriter?
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
