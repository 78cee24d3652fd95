import Logging
import NIOCore

/// What the handlers of one listener socket share.
struct ForwardingContext: Sendable {
    let router: ListenerRouter
    let listenerStats: FlowStats
    let metrics: MetricsRegistry
    let flows: FlowTracker
    let accessLog: AccessLogWriter?
    let connectTimeout: TimeAmount
    let logger: Logger
}
