import Atomics
import Logging
import NIOCore
import NIOPosix

/// What the handlers of one listener socket share. Each socket lives on one event loop.
struct ForwardingContext: Sendable {
    let runtime: ListenerRuntime
    let flows: FlowTracker
    let accessLog: AccessLogWriter?
    let udp: UDPLimits
    let logger: Logger
    /// Dials endpoints on the socket's event loop (each attempt bounded by the connect timeout), made once per
    /// socket rather than once per flow.
    let endpointDialer: EndpointDialer

    init(
        runtime: ListenerRuntime,
        flows: FlowTracker,
        accessLog: AccessLogWriter?,
        connectTimeout: TimeAmount,
        udp: UDPLimits,
        logger: Logger,
        loop: any EventLoop
    ) {
        self.runtime = runtime
        self.flows = flows
        self.accessLog = accessLog
        self.udp = udp
        self.logger = logger
        // TCP_NODELAY is the bootstrap's default. The other options are set in the initializer, synchronously on
        // the loop, instead of through one future per option; nothing is read before the flow is spliced.
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
                    try channel.syncOptions?.setOption(.autoRead, value: false)
                }
            }
        self.endpointDialer = EndpointDialer(bootstrap: bootstrap, loop: loop)
    }
}

/// A client bootstrap of one event loop, configured once and used only on that loop. NIO does not mark
/// `ClientBootstrap` `Sendable` because it is built by mutation; this one is never changed after it is made.
final class EndpointDialer: @unchecked Sendable {
    private let bootstrap: ClientBootstrap
    private let loop: any EventLoop

    init(bootstrap: ClientBootstrap, loop: any EventLoop) {
        self.bootstrap = bootstrap
        self.loop = loop
    }

    /// Connects a new channel of the loop to `address`. Call it on the loop.
    func connect(to address: SocketAddress) -> EventLoopFuture<any Channel> {
        self.loop.assertInEventLoop()
        return self.bootstrap.connect(to: address)
    }
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
