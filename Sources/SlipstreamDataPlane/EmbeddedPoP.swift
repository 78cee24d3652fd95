import Atomics
import Logging
import NIOCore
import NIOPosix
import SlipstreamModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Settings of a PoP that do not come from the API.
public struct PoPConfiguration: Sendable {
    public var popID = "embedded"
    /// Endpoint groups in this region are local: they take `traffic_dial_percentage` of the flows.
    public var regionID: String
    /// Timeout of one backend connect attempt.
    public var connectTimeout = TimeAmount.seconds(2)
    /// How long flows (TCP connections, UDP sessions) of a removed (or weight-0) endpoint, and all TCP flows at
    /// shutdown, may take to finish.
    public var drainTimeout = TimeAmount.seconds(30)
    /// A UDP session ends after this long without traffic either way.
    public var udpIdleTimeout = TimeAmount.seconds(60)
    /// UDP sessions per listener, over all its sockets; datagrams needing more are dropped and counted.
    public var udpMaxSessions = 10_000
    /// UDP sessions of the whole PoP (each holds a descriptor). Defaults to a quarter of the open-file soft limit
    /// (``DescriptorLimit/udpSessionBudget(softLimit:)``).
    public var udpMaxSessionsPerProcess = DescriptorLimit.current().map { DescriptorLimit.udpSessionBudget(softLimit: $0.soft) } ?? 256
    /// `SO_RCVBUF` in bytes of every UDP socket (listener and session), or nil for the kernel's default
    /// (`net.core.rmem_default`); the kernel caps it at `net.core.rmem_max`, then doubles it. Datagrams that find a
    /// buffer full are dropped by the kernel and counted (`udp_receive_buffer_drops_total`).
    public var udpReceiveBufferBytes: Int?
    /// How often endpoint domain names (`CUSTOM_DOMAIN_NAME`) are resolved again.
    public var dnsRefreshInterval = Duration.seconds(30)
    /// Listening sockets this PoP may hold (one per event loop for each port of each accelerator address). A
    /// listener that would take the PoP past it is refused whole and reported in ERROR. Defaults to half the open-file soft limit
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

    /// One port of one address: a socket per ``FlowLoop``, all bound with `SO_REUSEPORT`, so the kernel spreads new
    /// connections (TCP) and clients (UDP, by address and port) over the loops and each flow stays on the loop that
    /// received it.
    private struct Binding {
        var listenerID: String
        var sockets: [ListeningSocket]

        func close(_ forwarder: Forwarder) async {
            await forwarder.close(self.sockets)
        }
    }

    public let configuration: PoPConfiguration
    public nonisolated let metrics: MetricsRegistry
    /// Writes access logs of listeners with a logtank; nil turns access logging off.
    public nonisolated let accessLog: AccessLogWriter?
    private let logger: Logger
    private let health = HealthBook()
    /// The flows: their loop threads, sockets and draining.
    private let forwarder: Forwarder
    private let checker: HealthChecker
    private let udpProcessSessions = ManagedAtomic<Int>(0)
    private var runtimes: [String: ListenerRuntime] = [:]
    /// Resolved addresses of endpoint domain names; IP literals are parsed, never looked up.
    private var resolved: [String: SocketAddress] = [:]
    /// Endpoint domain names of the applied configuration that did not resolve at their last try; every apply
    /// tries them again.
    private var unresolved: Set<String> = []
    private var dnsRefresh: Task<Void, Never>?
    private var bindings: [BindingKey: Binding] = [:]
    /// The keys of `bindings` by listener.
    private var boundKeys: [String: Set<BindingKey>] = [:]
    /// Listening sockets each listener of the index needs (one per event loop for each of its ports and addresses),
    /// and their sum.
    private var socketsNeeded: [String: Int] = [:]
    private var socketsNeededTotal = 0
    private var current = ConfigSnapshot(revision: 0)
    /// The applied snapshot's resources by listener and group, kept up to date with each apply's delta.
    private var index = SnapshotIndex()
    /// Why listeners failed to apply (refused by the socket budget, a bind failed), by listener id.
    private var failures: [String: String] = [:]
    private var errors: [PoPReport.ApplyError] = []
    private var stopped = false

    /// - Parameter onHealthChange: called when an endpoint's health changes, so the owner can report it.
    /// - Throws: ``SocketError`` when the TCP flow loops cannot start (no epoll set or eventfd).
    public init(
        configuration: PoPConfiguration,
        metrics: MetricsRegistry,
        accessLog: AccessLogWriter? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onHealthChange: @escaping @Sendable () -> Void = {}
    ) throws {
        self.configuration = configuration
        self.metrics = metrics
        self.accessLog = accessLog
        // As many flow loops as the group has event loops (one per core for the default group).
        var loopCount = 0
        for _ in group.makeIterator() { loopCount += 1 }
        self.forwarder = try Forwarder(count: loopCount, logger: logger)
        self.logger = logger
        // A health change recompiles the plans of the listeners that endpoint serves, then tells the owner.
        let changed = ChangeRelay()
        self.checker = HealthChecker(book: self.health, group: group, logger: logger) { endpointID in
            changed.relay(endpointID)
            onHealthChange()
        }
        changed.target = self
        logger.info(
            "PoP listening-socket budget",
            metadata: [
                "budget": "\(configuration.listeningSocketBudget)",
                "open_file_soft_limit": "\(DescriptorLimit.current().map { String($0.soft) } ?? "unknown")",
            ]
        )
    }

    /// Serves `snapshot` and reports the outcome. Calls must not overlap (each caller, the reconciler or a remote
    /// PoP's pull loop, awaits one apply before the next): the delta is taken from the snapshot the last apply
    /// finished with.
    public func apply(_ snapshot: ConfigSnapshot) async -> PoPReport {
        guard snapshot.formatVersion == ConfigSnapshot.formatVersion, !self.stopped else { return self.report() }
        // The work of an apply follows what changed since the applied snapshot: the delta walks both in id order
        // (a kind the control plane did not touch is the same array, skipped at once), and only the listeners it
        // touches get a new plan or new sockets.
        let delta = ConfigDelta(from: self.current, to: snapshot)
        let changes = self.index.apply(delta)
        var compiled = changes.listeners
        // Listeners of endpoints whose names resolve now after failing before get their addresses.
        let recovered = await self.resolveNames(delta.endpoints.upserted.map(\.address))
        if !recovered.isEmpty {
            for endpoint in self.index.endpoints.values where recovered.contains(endpoint.address) {
                if let listener = self.index.listener(ofEndpoint: endpoint.id) { compiled.insert(listener) }
            }
        }
        // Health first, so new endpoints start in the state the checker gives them (INITIAL or NO_MONITOR).
        await self.checker.update(snapshot)
        self.compilePlans(of: compiled)
        var errors = await self.updateBindings(changes.listeners)
        errors.sort { ($0.kind.rawValue, $0.id) < ($1.kind.rawValue, $1.id) }
        // Endpoints that left the configuration or dropped to weight 0 get no new flows (their plans no longer
        // list them); their open flows may finish until the drain timeout.
        for id in changes.leavingEndpoints { self.forwarder.drain(endpointID: id, after: self.configuration.drainTimeout) }
        if self.dnsRefresh == nil { self.startDNSRefresh() }
        self.metrics.forget(listeners: changes.removedListeners, endpoints: changes.removedEndpoints)
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
        self.dnsRefresh?.cancel()
        for binding in self.bindings.values { await binding.close(self.forwarder) }
        self.bindings.removeAll()
        self.boundKeys.removeAll()
        await self.checker.stop()
        self.logger.info("PoP stopped accepting; draining", metadata: ["open_flows": "\(self.forwarder.openFlows)"])
        let deadline = ContinuousClock.now + .nanoseconds(self.configuration.drainTimeout.nanoseconds)
        while self.forwarder.openFlows > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        self.logger.info("PoP drained", metadata: ["closing_flows": "\(self.forwarder.openFlows)"])
        await self.forwarder.stop()
    }

    /// Compiles the plans of `listenerIDs` from the index, the current health and resolved names, and swaps each
    /// into its listener's runtime (created for a new listener, dropped for a removed one). Other listeners keep
    /// their plans.
    private func compilePlans(of listenerIDs: Set<String>) {
        for id in listenerIDs {
            guard let listener = self.index.listeners[id] else {
                self.runtimes[id] = nil
                continue
            }
            if let runtime = self.runtimes[id] {
                runtime.update(self.plan(for: listener))
            } else {
                self.runtimes[id] = ListenerRuntime(plan: self.plan(for: listener), stats: self.metrics.listener(id), loops: self.forwarder.count)
            }
        }
    }

    /// Recompiles the plans of the listeners whose groups hold `endpointIDs` (after a health change).
    func recompile(endpoints endpointIDs: Set<String>) {
        guard !self.stopped else { return }
        self.compilePlans(of: Set(endpointIDs.compactMap { self.index.listener(ofEndpoint: $0) }).filter { self.runtimes[$0] != nil })
    }

    /// `listener`'s plan from the indexed snapshot, the current health and the resolved names.
    private func plan(for listener: ConfigSnapshot.ListenerConfig) -> ListenerPlan {
        let health = self.health.snapshot
        let control = self.index.accessControls[listener.id]
        let sink = self.index.logSinks[listener.id]
        let groups = self.index.groups(of: listener.id).map { group in
            (
                id: group.id,
                isLocal: group.regionID == self.configuration.regionID,
                trafficDial: group.trafficDialPercentage,
                endpoints: self.index.endpoints(of: group.id).map { endpoint in
                    PlannedEndpoint(
                        id: endpoint.id,
                        host: endpoint.address,
                        address: self.address(of: endpoint.address),
                        weight: endpoint.weight,
                        isHealthy: (health[endpoint.id] ?? .noMonitor).acceptsTraffic,
                        stats: self.metrics.endpoint(endpoint.id, listenerID: listener.id)
                    )
                }
            )
        }
        return ListenerPlan(
            listenerID: listener.id,
            isUDP: listener.protocol == .udp,
            sourceIPAffinity: listener.clientAffinity == .sourceIP,
            access: control.map { AccessRule(allow: $0.type == .allow, blocks: $0.cidrs.compactMap { CIDR(parsing: $0) }) },
            logSink: self.accessLog == nil ? nil : sink.map { LogSink(group: $0.logGroupID, stream: $0.logStreamID) },
            groups: groups
        )
    }

    /// The address of an endpoint's IP literal, or of its resolved domain name.
    private func address(of host: String) -> SocketAddress? {
        if IPAddress(host) != nil { return try? SocketAddress(ipAddress: host, port: 0) }
        return self.resolved[host]
    }

    /// Resolves, off the event loops, the domain names among `addresses` (of endpoints) that are not resolved yet
    /// and those that failed before and are still in use; returns the failed ones that resolve now.
    private func resolveNames(_ addresses: [String]) async -> Set<String> {
        if !self.unresolved.isEmpty {
            let inUse = Set(self.index.endpoints.values.map(\.address))
            self.unresolved.formIntersection(inUse)
        }
        var recovered: Set<String> = []
        for name in Set(addresses.filter { IPAddress($0) == nil && self.resolved[$0] == nil }).union(self.unresolved) {
            if let address = await Self.resolve(name) {
                self.resolved[name] = address
                if self.unresolved.remove(name) != nil { recovered.insert(name) }
            } else if self.unresolved.insert(name).inserted {
                self.logger.warning("endpoint name does not resolve; it takes no flows", metadata: ["host": "\(name)"])
            }
        }
        return recovered
    }

    /// Resolves every endpoint name again every `dnsRefreshInterval`; a changed answer recompiles the plans.
    private func startDNSRefresh() {
        let interval = self.configuration.dnsRefreshInterval
        self.dnsRefresh = Task { [weak self] in
            while (try? await Task.sleep(for: interval)) != nil {
                guard let self else { return }
                await self.refreshNames()
            }
        }
    }

    private func refreshNames() async {
        let names = Set(self.current.endpoints.map(\.address).filter { IPAddress($0) == nil })
        var changed = false
        var fresh: [String: SocketAddress] = [:]
        for name in names {
            let address = await Self.resolve(name)
            fresh[name] = address ?? self.resolved[name]
            if address != nil && address != self.resolved[name] { changed = true }
        }
        self.resolved = fresh
        if changed && !self.stopped { self.compilePlans(of: Set(self.runtimes.keys)) }
    }

    /// `host`'s first IPv4 address, else its first IPv6 address; getaddrinfo runs on NIO's thread pool.
    static func resolve(_ host: String) async -> SocketAddress? {
        try? await NIOThreadPool.singleton.runIfActive { DomainName.resolve(host) }
    }

    /// Brings the listening sockets of `changed` listeners, and of those that failed before, in line with the index,
    /// and returns every listener's apply error.
    ///
    /// Listeners take sockets from the budget in creation order (ids are time-ordered); one that does not fit is
    /// refused whole, before any of its sockets is opened. A listener that fails anywhere holds none of its
    /// sockets, so a retry starts clean.
    private func updateBindings(_ changed: Set<String>) async -> [PoPReport.ApplyError] {
        for id in changed {
            self.socketsNeededTotal -= self.socketsNeeded.removeValue(forKey: id) ?? 0
            if let listener = self.index.listeners[id] {
                let needed = self.index.addresses(of: listener).count * PortRange.portCount(listener.portRanges) * self.forwarder.count
                self.socketsNeeded[id] = needed
                self.socketsNeededTotal += needed
            }
        }
        let refused = self.refusedByBudget()
        var failures = refused
        // Listeners whose sockets may have to change: those the delta touched, and those that failed last time
        // (retried, or let in by the budget now).
        let candidates = changed.union(self.failures.keys).union(refused.keys)
        var wanted: [String: [BindingKey]] = [:]
        for id in candidates {
            guard refused[id] == nil, let listener = self.index.listeners[id] else { continue }
            var keys: [BindingKey] = []
            for address in self.index.addresses(of: listener) {
                for range in listener.portRanges {
                    for port in range.fromPort...range.toPort {
                        keys.append(BindingKey(address: address, port: port, isUDP: listener.protocol == .udp))
                    }
                }
            }
            wanted[id] = keys.sorted { ($0.address, $0.port) < ($1.address, $1.port) }
        }
        // Let go first, so a socket one listener leaves can be bound by another in the same apply. Closing a
        // listening socket leaves its accepted connections open.
        for id in candidates {
            let keeping = Set(wanted[id] ?? [])
            for key in self.boundKeys[id] ?? [] where !keeping.contains(key) { await self.unbind(key) }
        }
        for id in candidates.sorted() {
            guard let keys = wanted[id], let runtime = self.runtimes[id] else { continue }
            for key in keys {
                if let holder = self.bindings[key]?.listenerID {
                    if holder == id { continue }
                    failures[id] = "cannot bind \(key): listener \(holder) is bound to it"
                    break
                }
                do {
                    self.bindings[key] = try await self.bind(key, runtime: runtime, listenerID: id)
                    self.boundKeys[id, default: []].insert(key)
                } catch {
                    failures[id] = "cannot bind \(key): \(error)"
                    break
                }
            }
            if failures[id] != nil {
                for key in self.boundKeys[id] ?? [] { await self.unbind(key) }
            }
        }
        self.failures = failures
        return failures.map { PoPReport.ApplyError(kind: .listener, id: $0.key, message: $0.value) }
    }

    /// The listeners the socket budget refuses, with the reason: none while every listener fits; otherwise walks
    /// every listener in creation order (only when the PoP is over its budget).
    private func refusedByBudget() -> [String: String] {
        let budget = self.configuration.listeningSocketBudget
        guard self.socketsNeededTotal > budget else { return [:] }
        var refused: [String: String] = [:]
        var used = 0
        for id in self.socketsNeeded.keys.sorted() {
            let needed = self.socketsNeeded[id] ?? 0
            guard used + needed <= budget else {
                refused[id] =
                    "needs \(needed) listening sockets, but this PoP's socket budget is \(budget) (half its open-file limit) and \(used) are taken by other listeners"
                continue
            }
            used += needed
        }
        return refused
    }

    private func unbind(_ key: BindingKey) async {
        guard let binding = self.bindings.removeValue(forKey: key) else { return }
        await binding.close(self.forwarder)
        self.boundKeys[binding.listenerID]?.remove(key)
        if self.boundKeys[binding.listenerID]?.isEmpty == true { self.boundKeys[binding.listenerID] = nil }
    }

    /// Binds `key` once per loop with `SO_REUSEPORT`; if any of them fails, the others are closed again.
    /// - Throws: the bind error (the address or port is taken, no descriptors are left).
    private func bind(_ key: BindingKey, runtime: ListenerRuntime, listenerID: String) async throws -> Binding {
        let sockets =
            key.isUDP
            ? try self.forwarder.listenUDP(
                address: key.address,
                port: key.port,
                runtime: runtime,
                accessLog: self.accessLog,
                limits: UDPLimits(
                    idleTimeout: self.configuration.udpIdleTimeout,
                    maxSessionsPerListener: self.configuration.udpMaxSessions,
                    maxSessionsPerProcess: self.configuration.udpMaxSessionsPerProcess,
                    processSessions: self.udpProcessSessions,
                    receiveBufferBytes: self.configuration.udpReceiveBufferBytes
                )
            )
            : try self.forwarder.listenTCP(
                address: key.address,
                port: key.port,
                runtime: runtime,
                accessLog: self.accessLog,
                connectTimeout: self.configuration.connectTimeout
            )
        return Binding(listenerID: listenerID, sockets: sockets)
    }
}

/// Hands health changes from the checker to the PoP, which exists only after the checker is made.
private final class ChangeRelay: @unchecked Sendable {
    /// Set once, right after init, before any probe runs.
    weak var target: EmbeddedPoP?

    func relay(_ endpointID: String) {
        guard let target = self.target else { return }
        Task { await target.recompile(endpoints: [endpointID]) }
    }
}
