import Foundation
import Logging
import NIOCore
import NIOPosix
import SlipstreamDataPlane
import SlipstreamModel
import Testing

@testable import SlipstreamTestSupport

/// The PoP through its own interface: a snapshot in, a report out, real sockets in between.
@Suite struct EmbeddedPoPTests {
    static func snapshot(revision: Int64, address: String, port: Int, endpoints: [(id: String, address: String)], drain: Bool = false)
        -> ConfigSnapshot
    {
        ConfigSnapshot(
            revision: revision,
            accelerators: [.init(id: "acc", addresses: [address])],
            listeners: [
                .init(id: "lis", acceleratorID: "acc", protocol: .tcp, portRanges: [PortRange(fromPort: port, toPort: port)], clientAffinity: .none)
            ],
            endpointGroups: [.init(id: "grp", listenerID: "lis", regionID: "local", trafficDialPercentage: 100)],
            endpoints: endpoints.map { .init(id: $0.id, groupID: "grp", address: $0.address, weight: 1) }
        )
    }

    static func pop(drainSeconds: Int64 = 10) throws -> EmbeddedPoP {
        var configuration = PoPConfiguration(regionID: "local")
        configuration.drainTimeout = .seconds(drainSeconds)
        configuration.connectTimeout = .milliseconds(500)
        var logger = Logger(label: "pop-test")
        logger.logLevel = .critical
        return try EmbeddedPoP(configuration: configuration, metrics: MetricsRegistry(), logger: logger)
    }

    @Test func reportsAppliedRevisionHealthAndDomainNameEndpoints() async throws {
        let port = freePort()
        let backend = try await EchoBackend(host: "127.0.0.1", port: port)
        defer { Task { try? await backend.stop() } }
        let pop = try Self.pop()
        // A CUSTOM_DOMAIN_NAME endpoint is resolved by DNS when a flow connects.
        let report = await pop.apply(Self.snapshot(revision: 7, address: "127.11.40.1", port: port, endpoints: [("dns", "localhost")]))
        #expect(report.appliedRevision == 7)
        #expect(report.errors.isEmpty)
        #expect(report.health == [.init(endpointID: "dns", state: .noMonitor)])
        #expect(await pop.boundSockets == ["127.11.40.1:\(port)/TCP"])
        #expect(try await Traffic.tcpRoundTrip("127.11.40.1", port) == "127.0.0.1:hi")

        // A snapshot without the listener unbinds it.
        let empty = await pop.apply(ConfigSnapshot(revision: 8))
        #expect(empty.appliedRevision == 8)
        #expect(await pop.boundSockets.isEmpty)
        await #expect(throws: (any Error).self) { _ = try await Traffic.tcpRoundTrip("127.11.40.1", port) }
        await pop.shutdown()
    }

    @Test func shutdownStopsAcceptingAndDrainsOpenFlows() async throws {
        let port = freePort()
        let backend = try await EchoBackend(host: "127.0.0.2", port: port)
        defer { Task { try? await backend.stop() } }
        // A drain timeout far above the bound below, so "ended with the last flow" and "waited for the timeout"
        // stay apart even when the other tests load both cores.
        let pop = try Self.pop(drainSeconds: 60)
        _ = await pop.apply(Self.snapshot(revision: 1, address: "127.11.41.1", port: port, endpoints: [("e", "127.0.0.2")]))
        let (open, first) = try await Traffic.openConnection("127.11.41.1", port, payload: "before")
        #expect(first == "127.0.0.2:before")

        let started = ContinuousClock.now
        let shutdown = Task { await pop.shutdown() }
        // New connections are refused as soon as the listening sockets close (the bound leaves room for a loaded
        // machine; the drain timeout of 60 s keeps it apart from "waited for the drain").
        #expect(try await eventually { (try? await Traffic.tcpRoundTrip("127.11.41.1", port)) == nil })
        // The open flow still carries bytes while the PoP drains.
        try await open.writeAndFlush(ByteBuffer(string: "during"))
        let received = try await open.pipeline.handler(type: FirstReplyHandler.self).get().received
        #expect(try await eventually(timeout: .seconds(2)) { received.withLockedValue { $0 }.hasSuffix("127.0.0.2:during") })
        try await open.close()
        await shutdown.value
        // It finished as soon as the last flow did, well before the drain timeout.
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    /// A listener that would take the PoP past its listening-socket budget is refused whole, before any socket is
    /// opened, and the others keep theirs; with room again it binds. Each port takes one socket per event loop.
    @Test func aListenerOverTheSocketBudgetIsRefusedWhole() async throws {
        var configuration = PoPConfiguration(regionID: "local")
        configuration.listeningSocketBudget = 16
        var logger = Logger(label: "pop-test")
        logger.logLevel = .critical
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let pop = try EmbeddedPoP(configuration: configuration, metrics: MetricsRegistry(), group: group, logger: logger)
        let addresses = ["127.11.43.1", "127.11.43.2"]
        let small = ConfigSnapshot.ListenerConfig(
            id: "lis-a",
            acceleratorID: "acc",
            protocol: .tcp,
            portRanges: [PortRange(fromPort: 31_000, toPort: 31_002)],
            clientAffinity: .none
        )
        let big = ConfigSnapshot.ListenerConfig(
            id: "lis-b",
            acceleratorID: "acc",
            protocol: .udp,
            portRanges: [PortRange(fromPort: 31_010, toPort: 31_011)],
            clientAffinity: .none
        )
        let both = ConfigSnapshot(revision: 1, accelerators: [.init(id: "acc", addresses: addresses)], listeners: [small, big])
        for _ in 0..<2 {
            let report = await pop.apply(both)
            #expect(report.errors.map(\.id) == ["lis-b"])
            let message = report.errors.first?.message ?? ""
            #expect(message.contains("needs 8 listening sockets"), "\(message)")
            #expect(message.contains("socket budget is 16"), "\(message)")
            #expect(message.contains("12 are taken"), "\(message)")
            #expect(await pop.boundSockets.count == 6)
            #expect(await pop.boundSockets.allSatisfy { $0.hasSuffix("/TCP") })
        }
        let alone = await pop.apply(ConfigSnapshot(revision: 2, accelerators: [.init(id: "acc", addresses: addresses)], listeners: [big]))
        #expect(alone.errors.isEmpty)
        #expect(await pop.boundSockets.count == 4)
        await pop.shutdown()
        try await group.shutdownGracefully()
    }

    /// Listening sockets share a port only among the PoP's own event loops (`SO_REUSEPORT`): a port another program
    /// holds still makes the listener ERROR instead of splitting its traffic, and nothing of the listener stays bound.
    @Test(arguments: ListenerProtocol.allCases) func aPortHeldByAnotherProgramIsAnError(proto: ListenerProtocol) async throws {
        let first = freePort(span: 2)
        let port = first + 1
        let address = "127.11.45.1"
        let holder: any Channel =
            proto == .tcp
            ? try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: address, port: port).get()
            : try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: address, port: port).get()
        let pop = try Self.pop()
        let listener = ConfigSnapshot.ListenerConfig(
            id: "lis",
            acceleratorID: "acc",
            protocol: proto,
            portRanges: [PortRange(fromPort: first, toPort: port)],
            clientAffinity: .none
        )
        let snapshot = ConfigSnapshot(revision: 1, accelerators: [.init(id: "acc", addresses: [address])], listeners: [listener])
        let report = await pop.apply(snapshot)
        #expect(report.errors.map(\.id) == ["lis"])
        #expect(report.errors.first?.message.contains("cannot bind \(address):\(port)/\(proto.rawValue)") == true, "\(report.errors)")
        #expect(await pop.boundSockets.isEmpty)
        try await holder.close()
        let retried = await pop.apply(ConfigSnapshot(revision: 2, accelerators: snapshot.accelerators, listeners: [listener]))
        #expect(retried.errors.isEmpty)
        #expect(await pop.boundSockets == ["\(address):\(first)/\(proto.rawValue)", "\(address):\(port)/\(proto.rawValue)"])
        await pop.shutdown()
    }

    /// An apply changes the sockets of the listeners its delta touches and no others: a listener whose port moved,
    /// one whose accelerator's address changed and one removed; two listeners wanting one address and port are
    /// not both served (the later one is an error until the first lets go, then it binds on the next apply). The
    /// counters of a removed listener and endpoint leave `/metrics`.
    @Test func anApplyRebindsOnlyTheListenersThatChanged() async throws {
        let first = freePort(span: 3)
        let pop = try Self.pop()
        func listener(_ id: String, _ accelerator: String, _ port: Int) -> ConfigSnapshot.ListenerConfig {
            .init(id: id, acceleratorID: accelerator, protocol: .tcp, portRanges: [PortRange(fromPort: port, toPort: port)], clientAffinity: .none)
        }
        let one = "127.11.47.1"
        let two = "127.11.47.2"
        var snapshot = ConfigSnapshot(
            revision: 1,
            accelerators: [.init(id: "acc-a", addresses: [one]), .init(id: "acc-b", addresses: [two])],
            listeners: [listener("lis-a", "acc-a", first), listener("lis-b", "acc-b", first)],
            endpointGroups: [.init(id: "grp-a", listenerID: "lis-a", regionID: "local", trafficDialPercentage: 100)],
            endpoints: [.init(id: "ep-a", groupID: "grp-a", address: "127.0.0.1", weight: 1)]
        )
        #expect(await pop.apply(snapshot).errors.isEmpty)
        #expect(await pop.boundSockets == ["\(one):\(first)/TCP", "\(two):\(first)/TCP"])

        snapshot.revision = 2
        snapshot.listeners[0] = listener("lis-a", "acc-a", first + 1)
        #expect(await pop.apply(snapshot).errors.isEmpty)
        #expect(await pop.boundSockets == ["\(one):\(first + 1)/TCP", "\(two):\(first)/TCP"])
        // lis-b still accepts. With no endpoint the PoP then resets the connection, which may reach the client before
        // its connect completes: anything but a refusal.
        do {
            let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: two, port: first).get()
            try? await connection.close()
        } catch {
            #expect(!"\(error)".contains("refused"), "\(error)")
        }

        snapshot.revision = 3
        snapshot.accelerators[1] = .init(id: "acc-b", addresses: ["127.11.47.3"])
        #expect(await pop.apply(snapshot).errors.isEmpty)
        #expect(await pop.boundSockets == ["\(one):\(first + 1)/TCP", "127.11.47.3:\(first)/TCP"])

        // A third listener on lis-a's address and port.
        snapshot.revision = 4
        snapshot.accelerators.append(.init(id: "acc-c", addresses: [one]))
        snapshot.listeners.append(listener("lis-c", "acc-c", first + 1))
        let clash = await pop.apply(snapshot)
        #expect(clash.errors.map(\.id) == ["lis-c"])
        #expect(clash.errors.first?.message.contains("listener lis-a is bound to it") == true, "\(clash.errors)")
        #expect(await pop.boundSockets == ["\(one):\(first + 1)/TCP", "127.11.47.3:\(first)/TCP"])

        #expect(pop.metrics.render().contains(#"listener_id="lis-a""#) && pop.metrics.render().contains(#"endpoint_id="ep-a""#))
        snapshot.revision = 5
        snapshot.listeners.removeFirst()
        snapshot.accelerators.removeFirst()
        snapshot.endpointGroups = []
        snapshot.endpoints = []
        #expect(await pop.apply(snapshot).errors.isEmpty)
        let metrics = pop.metrics.render()
        #expect(metrics.contains(#"listener_id="lis-b""#) && !metrics.contains("lis-a") && !metrics.contains("ep-a"))
        #expect(await pop.boundSockets == ["\(one):\(first + 1)/TCP", "127.11.47.3:\(first)/TCP"])
        #expect(await pop.report().appliedRevision == 5)
        await pop.shutdown()
    }
}
