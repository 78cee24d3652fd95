import Logging
import NIOCore
import NIOPosix
import SlipstreamModel

/// Probes every endpoint of every endpoint group that has an enabled health check, and keeps the
/// ``HealthBook`` current. TCP probes connect within the timeout; UDP probes send a datagram and fail only when
/// the endpoint answers with an ICMP error (port unreachable) within the timeout, since a UDP service need not
/// reply.
actor HealthChecker {
    private struct Probe: Equatable {
        var address: String
        var check: ConfigSnapshot.HealthCheckConfig
    }

    private let book: HealthBook
    private let group: any EventLoopGroup
    private let onChange: @Sendable (String) -> Void
    private let logger: Logger
    private var probes: [String: (probe: Probe, task: Task<Void, Never>)] = [:]

    /// - Parameter onChange: called with the endpoint id whenever an endpoint's health changes.
    init(book: HealthBook, group: any EventLoopGroup, logger: Logger, onChange: @escaping @Sendable (String) -> Void) {
        self.book = book
        self.group = group
        self.logger = logger
        self.onChange = onChange
    }

    /// Starts, restarts or stops probes to match `snapshot`.
    func update(_ snapshot: ConfigSnapshot) {
        let checks = Dictionary(snapshot.healthChecks.filter(\.enabled).map { ($0.groupID, $0) }, uniquingKeysWith: { a, _ in a })
        var wanted: [String: Probe] = [:]
        for endpoint in snapshot.endpoints {
            if let check = checks[endpoint.groupID] {
                wanted[endpoint.id] = Probe(address: endpoint.address, check: check)
            } else {
                self.book.set(.noMonitor, for: endpoint.id)
            }
        }
        for (id, running) in self.probes where wanted[id] != running.probe {
            running.task.cancel()
            self.probes[id] = nil
        }
        for (id, probe) in wanted where self.probes[id] == nil {
            self.book.set(.initial, for: id)
            self.probes[id] = (probe, Task { await self.run(probe, endpointID: id) })
        }
        let known = Set(snapshot.endpoints.map(\.id))
        for id in self.book.snapshot.keys where !known.contains(id) { self.book.remove(id) }
    }

    func stop() {
        for running in self.probes.values { running.task.cancel() }
        self.probes.removeAll()
    }

    private nonisolated func run(_ probe: Probe, endpointID: String) async {
        var machine = HealthStateMachine(threshold: probe.check.maxRetries)
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let success = await self.probe(probe)
            if Task.isCancelled { return }
            if let state = machine.record(success: success) {
                self.book.set(state, for: endpointID)
                self.logger.info("endpoint health changed", metadata: ["endpoint_id": "\(endpointID)", "state": "\(state.rawValue)"])
                self.onChange(endpointID)
            }
            let next = started + .seconds(probe.check.interval)
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }

    private nonisolated func probe(_ probe: Probe) async -> Bool {
        let timeout = TimeAmount.seconds(Int64(probe.check.timeout))
        if probe.check.protocol == .udp {
            return await self.probeUDP(host: probe.address, port: probe.check.port, timeout: timeout)
        }
        do {
            let channel = try await ClientBootstrap(group: self.group)
                .connectTimeout(timeout)
                .connect(host: probe.address, port: probe.check.port)
                .get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }

    private nonisolated func probeUDP(host: String, port: Int, timeout: TimeAmount) async -> Bool {
        let loop = self.group.next()
        let verdict = loop.makePromise(of: Bool.self)
        do {
            let channel = try await DatagramBootstrap(group: loop)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: datagramBufferSize))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(UDPProbeHandler(verdict: verdict)) }
                }
                .connect(host: host, port: port)
                .get()
            let timer = loop.scheduleTask(in: timeout) { verdict.succeed(true) }
            try await channel.writeAndFlush(
                AddressedEnvelope(remoteAddress: channel.remoteAddress!, data: ByteBuffer(string: "slipstream-health-check"))
            )
            let result = try await verdict.futureResult.get()
            timer.cancel()
            try? await channel.close()
            return result
        } catch {
            verdict.succeed(false)
            return false
        }
    }
}

/// Settles a UDP probe: a reply means up, an error (ICMP port unreachable) means down.
private final class UDPProbeHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let verdict: EventLoopPromise<Bool>

    init(verdict: EventLoopPromise<Bool>) {
        self.verdict = verdict
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.verdict.succeed(true)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.verdict.succeed(false)
    }
}
