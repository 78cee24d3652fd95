import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import SlipstreamControlPlane
import SlipstreamDataPlane
import SlipstreamModel
import SlipstreamStore

/// Builds the whole server (API, store, reconciler) from a configuration. `slipstream serve` and the tests both
/// call this.
public func buildApplication(
    configuration: SlipstreamConfiguration,
    logger: Logger = Logger(label: "slipstream"),
    onFirstAccount: (AccountCredentials) throws -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    OpenAPIDocument.deriveRules()
    let state = try await DataDirectory.open(configuration: configuration, logger: logger)
    if let first = state.firstAccount { try onFirstAccount(first) }
    let signal = ReconcilerSignal()
    let revisions = RevisionWatch()
    let controlPlane = ControlPlane(store: state.store, settings: configuration.controlPlane) { revision in
        revisions.publish(revision)
        signal.wake()
    }
    let metrics = MetricsRegistry()
    let router = buildRouter(
        configuration: configuration,
        controlPlane: controlPlane,
        accounts: state.accounts,
        metrics: metrics,
        pops: PoPProtocolController(controlPlane: controlPlane, revisions: revisions, cache: EncodedSnapshots()) { signal.wake() },
        logger: logger
    )
    // Services stop in reverse order: the reconciler first, then the PoP drains, and the database closes last.
    var services: [any Service] = [DatabaseService(store: state.store)]
    var pop: EmbeddedPoP?
    if configuration.dataPlaneEnabled {
        let popConfiguration = configuration.popConfiguration(popID: configuration.popID, regionID: configuration.effectivePopRegion)
        let accessLog = AccessLogWriter(
            directory: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("logs").path,
            maxFileBytes: configuration.accessLogMaxBytes,
            logger: logger
        )
        let embedded = try EmbeddedPoP(configuration: popConfiguration, metrics: metrics, accessLog: accessLog, logger: logger) { signal.wake() }
        services.append(PoPService(pop: embedded))
        pop = embedded
    }
    services.append(Reconciler(controlPlane: controlPlane, signal: signal, pop: pop, revisions: revisions, logger: logger))
    let requestTimeout = TimeAmount.seconds(Int64(configuration.httpRequestTimeoutSeconds))
    return Application(
        router: router,
        server: .http1(
            configuration: .init(
                additionalChannelHandlers: [RequestDeadlineHandler(readTimeout: requestTimeout)],
                idleTimeout: .seconds(Int64(configuration.httpIdleTimeoutSeconds))
            )
        ),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port),
            serverName: "slipstream",
            // With the cap reached the server stops accepting (new clients wait in the listen backlog) until a
            // connection closes.
            availableConnectionsDelegate: MaximumAvailableConnections(configuration.httpMaxConnections, logger: logger)
        ),
        services: services,
        logger: logger
    )
}

func buildRouter(
    configuration: SlipstreamConfiguration,
    controlPlane: ControlPlane,
    accounts: AccountStore,
    metrics: MetricsRegistry,
    pops: PoPProtocolController? = nil,
    logger: Logger
) -> Router<SlipstreamRequestContext> {
    let router = Router(context: SlipstreamRequestContext.self)
    let httpMetrics = HTTPMetrics()
    let tokenKey = SymmetricKeyBox(key: accounts.masterKey.tokenKey)
    router.add(middleware: RequestMiddleware(maxBodyBytes: configuration.maxBodyBytes, metrics: httpMetrics, logger: logger))
    router.add(middleware: AuthMiddleware(accounts: accounts, tokenKey: tokenKey, clockSkewSeconds: configuration.clockSkewSeconds))
    router.get("healthz") { _, _ in "ok" }
    router.get("metrics") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.render() + httpMetrics.render()))
        )
    }
    router.get("openapi.json") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes))
        )
    }
    let v1 = router.group("v1", context: AuthenticatedContext.self)
    v1.addRoutes(Resources.accelerators(controlPlane).collection, atPath: "accelerators")
    v1.addRoutes(Resources.listeners(controlPlane).collection, atPath: "listeners")
    v1.addRoutes(Resources.endpointGroups(controlPlane).collection, atPath: "endpoint-groups")
    v1.addRoutes(Resources.endpoints(controlPlane).collection, atPath: "endpoint-groups/:endpoint_group_id/endpoints")
    v1.addRoutes(Resources.healthChecks(controlPlane).collection, atPath: "health-checks")
    v1.addRoutes(Resources.logtanks(controlPlane).collection, atPath: "logtanks")
    v1.addRoutes(IPGroupController(controlPlane: controlPlane).endpoints, atPath: "ip-groups")
    v1.addRoutes(AccountResourceController(controlPlane: controlPlane, configuration: configuration).endpoints)
    v1.addRoutes(TagController(controlPlane: controlPlane).endpoints)
    v1.addRoutes(RegionController(regions: configuration.regions).endpoints, atPath: "regions")
    let popProtocol = pops ?? PoPProtocolController(controlPlane: controlPlane, revisions: RevisionWatch(), cache: EncodedSnapshots()) {}
    router.addRoutes(popProtocol.endpoints, atPath: "pop/v1")
    router.addRoutes(
        IAMController(accounts: accounts, tokenKey: tokenKey, tokenLifetimeSeconds: configuration.tokenLifetimeSeconds).endpoints,
        atPath: "v3/auth"
    )
    return router
}
