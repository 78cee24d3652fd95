import Logging
import NIOCore
import NIOPosix
import SlipstreamCore

/// Settings of a PoP that do not come from the API.
public struct PoPConfiguration: Sendable {
    public var popID = "embedded"
    /// Endpoint groups in this region are local: they take `traffic_dial_percentage` of the flows.
    public var regionID: String
    /// Timeout of one backend connect attempt.
    public var connectTimeout = TimeAmount.seconds(2)
    /// How long flows of a removed (or weight-0) endpoint, and all flows at shutdown, may take to finish.
    public var drainTimeout = TimeAmount.seconds(30)
    /// A UDP session ends after this long without traffic either way.
    public var udpIdleTimeout = TimeAmount.seconds(60)
    /// Sessions per UDP listener socket; datagrams needing more are dropped.
    public var udpMaxSessions = 10_000
    /// Listening sockets this PoP may hold (one per port per accelerator address). A listener that would take the
    /// PoP past it is refused whole and reported in ERROR. Defaults to half the open-file soft limit
    /// (``DescriptorLimit/listeningSocketBudget(softLimit:)``).
    public var listeningSocketBudget = DescriptorLimit.current().map { DescriptorLimit.listeningSocketBudget(softLimit: $0.soft) } ?? 512

    public init(regionID: String) {
        self.regionID = regionID
    }
}

/// The data plane embedded in `slipstream serve`: binds every listener port on its accelerator's addresses,
/// forwards TCP connections and UDP sessions to endpoints, checks endpoint health, and reports back.
public actor EmbeddedPoP: PoP {
    private struct BindingKey: Hashable, CustomStringConvertible {
        var address: String
        var port: Int
        var isUDP: Bool
        var description: String { "\(self.address):\(self.port)/\(self.isUDP ? "UDP" : "TCP")" }
    }

    private struct Binding {
        var listenerID: String
        var channel: any Channel
    }

    public let configuration: PoPConfiguration
    public nonisolated let metrics: MetricsRegistry
    /// Writes access logs of listeners with a logtank; nil turns access logging off.
    public nonisolated let accessLog: AccessLogWriter?
    private let group: any EventLoopGroup
    private let logger: Logger
    private let health = HealthBook()
    private let flows = FlowTracker()
    private let checker: HealthChecker
    private var routers: [String: ListenerRouter] = [:]
    private var bindings: [BindingKey: Binding] = [:]
    private var current = ConfigSnapshot(revision: 0)
    private var errors: [PoPReport.ApplyError] = []
    private var stopped = false

    /// - Parameter onHealthChange: called when an endpoint's health changes, so the owner can report it.
    public init(
        configuration: PoPConfiguration,
        metrics: MetricsRegistry,
        accessLog: AccessLogWriter? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onHealthChange: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.metrics = metrics
        self.accessLog = accessLog
        self.group = group
        self.logger = logger
        self.checker = HealthChecker(book: self.health, group: group, logger: logger, onChange: onHealthChange)
        logger.info(
            "PoP listening-socket budget",
            metadata: [
                "budget": "\(configuration.listeningSocketBudget)",
                "open_file_soft_limit": "\(DescriptorLimit.current().map { String($0.soft) } ?? "unknown")",
            ]
        )
    }

    public func apply(_ snapshot: ConfigSnapshot) async -> PoPReport {
        guard snapshot.formatVersion == ConfigSnapshot.formatVersion, !self.stopped else { return self.report() }
        let previous = self.current
        self.updateRouters(snapshot)
        var errors = await self.updateBindings(snapshot)
        errors.sort { ($0.kind.rawValue, $0.id) < ($1.kind.rawValue, $1.id) }
        self.drainLeavingEndpoints(previous: previous, next: snapshot)
        await self.checker.update(snapshot)
        self.metrics.retain(listeners: Set(snapshot.listeners.map(\.id)), endpoints: Set(snapshot.endpoints.map(\.id)))
        self.metrics.setApplied(revision: snapshot.revision, errors: errors)
        if errors != self.errors {
            for error in errors {
                self.logger.error("apply failed", metadata: ["\(error.kind.rawValue)_id": "\(error.id)", "reason": "\(error.message)"])
            }
        }
        self.current = snapshot
        self.errors = errors
        return self.report()
    }

    public func report() -> PoPReport {
        let health = self.health.snapshot
        self.metrics.setHealth(health)
        return PoPReport(
            popID: self.configuration.popID,
            regionID: self.configuration.regionID,
            appliedRevision: self.current.revision,
            errors: self.errors,
            health: self.current.endpoints.map { PoPReport.EndpointHealth(endpointID: $0.id, state: health[$0.id] ?? .noMonitor) }
        )
    }

    /// The addresses and ports bound now, e.g. `127.10.0.1:80/TCP`.
    public var boundSockets: [String] { self.bindings.keys.map(\.description).sorted() }

    /// Stops accepting, lets open flows finish for up to the drain timeout, then closes the rest.
    public func shutdown() async {
        self.stopped = true
        for binding in self.bindings.values { try? await binding.channel.close() }
        self.bindings.removeAll()
        await self.checker.stop()
        self.logger.info("PoP stopped accepting; draining", metadata: ["open_flows": "\(self.flows.count)"])
        let deadline = ContinuousClock.now + .nanoseconds(self.configuration.drainTimeout.nanoseconds)
        while self.flows.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        self.logger.info("PoP drained", metadata: ["closing_flows": "\(self.flows.count)"])
        self.flows.closeAll()
    }

    private func updateRouters(_ snapshot: ConfigSnapshot) {
        let groupsByListener = Dictionary(grouping: snapshot.endpointGroups, by: \.listenerID)
        let endpointsByGroup = Dictionary(grouping: snapshot.endpoints, by: \.groupID)
        let controls = Dictionary(snapshot.accessControls.map { ($0.listenerID, $0) }, uniquingKeysWith: { a, _ in a })
        let sinks = Dictionary(
            snapshot.logSinks.map { ($0.listenerID, LogSink(group: $0.logGroupID, stream: $0.logStreamID)) },
            uniquingKeysWith: { a, _ in a }
        )
        var routers: [String: ListenerRouter] = [:]
        for listener in snapshot.listeners {
            let plan = ListenerRouter.Plan(
                listenerID: listener.id,
                sourceIPAffinity: listener.clientAffinity == "SOURCE_IP",
                groups: (groupsByListener[listener.id] ?? []).map { group in
                    .init(
                        id: group.id,
                        isLocal: group.regionID == self.configuration.regionID,
                        trafficDialPercentage: group.trafficDialPercentage,
                        endpoints: endpointsByGroup[group.id] ?? []
                    )
                },
                accessControl: controls[listener.id].map { control in
                    .init(allow: control.type == "WHITE", blocks: control.cidrs.compactMap { CIDR(parsing: $0) })
                },
                logSink: self.accessLog == nil ? nil : sinks[listener.id]
            )
            if let router = self.routers[listener.id] {
                router.update(plan)
                routers[listener.id] = router
            } else {
                routers[listener.id] = ListenerRouter(plan: plan, health: self.health)
            }
        }
        self.routers = routers
    }

    private func updateBindings(_ snapshot: ConfigSnapshot) async -> [PoPReport.ApplyError] {
        let addresses = Dictionary(snapshot.accelerators.map { ($0.id, $0.addresses) }, uniquingKeysWith: { a, _ in a })
        var wanted: [BindingKey: String] = [:]
        var failures: [String: String] = [:]
        // Listeners take sockets from the budget in creation order (ids are time-ordered); one that does not fit is
        // refused whole, before any of its sockets is opened.
        var budgetUsed = 0
        let budget = self.configuration.listeningSocketBudget
        for listener in snapshot.listeners.sorted(by: { $0.id < $1.id }) {
            let listenerAddresses = addresses[listener.acceleratorID] ?? []
            let needed = listenerAddresses.count * PortRange.portCount(listener.portRanges)
            guard budgetUsed + needed <= budget else {
                failures[listener.id] =
                    "needs \(needed) listening sockets, but this PoP's socket budget is \(budget) (half its open-file limit) and \(budgetUsed) are taken by other listeners"
                continue
            }
            budgetUsed += needed
            for address in listenerAddresses {
                for range in listener.portRanges {
                    for port in range.fromPort...range.toPort {
                        wanted[BindingKey(address: address, port: port, isUDP: listener.protocol == "UDP")] = listener.id
                    }
                }
            }
        }
        for (key, binding) in self.bindings where wanted[key] != binding.listenerID {
            // Closing a listening socket leaves its accepted connections open.
            try? await binding.channel.close()
            self.bindings[key] = nil
        }
        for (key, listenerID) in wanted.sorted(by: { ($0.key.address, $0.key.port) < ($1.key.address, $1.key.port) })
        where self.bindings[key] == nil {
            guard failures[listenerID] == nil, let router = self.routers[listenerID] else { continue }
            do {
                let channel = try await self.bind(key, router: router)
                self.bindings[key] = Binding(listenerID: listenerID, channel: channel)
            } catch {
                failures[listenerID] = "cannot bind \(key): \(error)"
            }
        }
        // A listener that failed anywhere holds none of its sockets, so a retry starts clean.
        for (key, binding) in self.bindings where failures[binding.listenerID] != nil {
            try? await binding.channel.close()
            self.bindings[key] = nil
        }
        return failures.map { PoPReport.ApplyError(kind: .listener, id: $0.key, message: $0.value) }
    }

    private func bind(_ key: BindingKey, router: ListenerRouter) async throws -> any Channel {
        let forwarding = ForwardingContext(
            router: router,
            listenerStats: self.metrics.listener(router.listenerID),
            metrics: self.metrics,
            flows: self.flows,
            accessLog: self.accessLog,
            connectTimeout: self.configuration.connectTimeout,
            logger: self.logger
        )
        let port = key.port
        if key.isUDP {
            let limits = UDPListenerHandler.Limits(
                idleTimeout: self.configuration.udpIdleTimeout,
                maxSessions: self.configuration.udpMaxSessions,
                maxQueuedDatagrams: 16
            )
            return try await DatagramBootstrap(group: self.group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPListenerHandler(forwarding: forwarding, port: port, limits: limits))
                    }
                }
                .bind(host: key.address, port: port)
                .get()
        }
        return try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TCPConnectHandler(context: forwarding, port: port))
                }
            }
            .bind(host: key.address, port: port)
            .get()
    }

    /// Endpoints that left the configuration or dropped to weight 0 get no new flows (the routers already see
    /// that); their open flows may finish until the drain timeout.
    private func drainLeavingEndpoints(previous: ConfigSnapshot, next: ConfigSnapshot) {
        let staying = Set(next.endpoints.filter { $0.weight > 0 }.map(\.id))
        for endpoint in previous.endpoints where endpoint.weight > 0 && !staying.contains(endpoint.id) {
            self.flows.drain(endpointID: endpoint.id, after: self.configuration.drainTimeout, on: self.group.next())
        }
    }
}
