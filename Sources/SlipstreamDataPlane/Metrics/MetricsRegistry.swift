import NIOConcurrencyHelpers
import SlipstreamModel

/// The data plane's part of `/metrics` (flows, health, applied revision), in the Prometheus text format.
public final class MetricsRegistry: Sendable {
    private struct State {
        var listeners: [String: FlowStats] = [:]
        var endpoints: [String: (stats: FlowStats, listenerID: String)] = [:]
        var health: [String: HealthState] = [:]
        var applyErrors: [String: String] = [:]
        var appliedRevision: Int64 = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// The counters of a listener, created on first use and kept across configuration changes.
    public func listener(_ id: String) -> FlowStats {
        self.state.withLockedValue { state in
            if let stats = state.listeners[id] { return stats }
            let stats = FlowStats()
            state.listeners[id] = stats
            return stats
        }
    }

    public func endpoint(_ id: String, listenerID: String) -> FlowStats {
        self.state.withLockedValue { state in
            if let entry = state.endpoints[id] { return entry.stats }
            let stats = FlowStats()
            state.endpoints[id] = (stats, listenerID)
            return stats
        }
    }

    /// Drops the counters of removed listeners and endpoints.
    public func forget(listeners: Set<String>, endpoints: Set<String>) {
        guard !listeners.isEmpty || !endpoints.isEmpty else { return }
        self.state.withLockedValue { state in
            for id in listeners { state.listeners[id] = nil }
            for id in endpoints {
                state.endpoints[id] = nil
                state.health[id] = nil
            }
        }
    }

    public func setHealth(_ health: [String: HealthState]) {
        self.state.withLockedValue { $0.health = health }
    }

    public func setApplied(revision: Int64, errors: [PoPReport.ApplyError]) {
        self.state.withLockedValue { state in
            state.appliedRevision = revision
            state.applyErrors = Dictionary(errors.map { ("\($0.kind.rawValue)/\($0.id)", $0.message) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        let state = self.state.withLockedValue { $0 }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        let counters: [(String, String, String, (FlowStats) -> Int)] = [
            ("active_connections", "gauge", "Flows (TCP connections, UDP sessions) open now.", { $0.active.value }),
            ("connections_total", "counter", "Flows opened.", { $0.total.value }),
            ("bytes_in_total", "counter", "Bytes from clients to endpoints.", { $0.bytesIn.value }),
            ("bytes_out_total", "counter", "Bytes from endpoints to clients.", { $0.bytesOut.value }),
            ("connect_failures_total", "counter", "Backend connects that failed.", { $0.connectFailures.load(ordering: .relaxed) }),
            ("refused_total", "counter", "Flows refused before reaching an endpoint.", { $0.refused.load(ordering: .relaxed) }),
            ("denied_total", "counter", "New flows refused by the listener's IP group.", { $0.denied.load(ordering: .relaxed) }),
            (
                "udp_dropped_datagrams_total", "counter",
                "UDP datagrams the PoP dropped (no endpoint, a session budget reached, too large, a send buffer full, a failed send).",
                { $0.droppedDatagrams.load(ordering: .relaxed) }
            ),
            (
                "udp_receive_buffer_drops_total", "counter",
                "UDP datagrams the kernel dropped at a socket before the PoP read them (mostly a full receive buffer).",
                { $0.receiveBufferDrops.load(ordering: .relaxed) }
            ),
            (
                "udp_session_errors_total", "counter", "UDP sessions ended by an error on their endpoint socket.",
                { $0.sessionErrors.load(ordering: .relaxed) }
            ),
        ]
        for (suffix, type, help, value) in counters {
            family("slipstream_listener_\(suffix)", type, help)
            for (id, stats) in state.listeners.sorted(by: { $0.key < $1.key }) {
                out += "slipstream_listener_\(suffix){listener_id=\"\(id)\"} \(value(stats))\n"
            }
            family("slipstream_endpoint_\(suffix)", type, help)
            for (id, entry) in state.endpoints.sorted(by: { $0.key < $1.key }) {
                out += "slipstream_endpoint_\(suffix){endpoint_id=\"\(id)\",listener_id=\"\(entry.listenerID)\"} \(value(entry.stats))\n"
            }
        }
        family("slipstream_endpoint_health", "gauge", "1 for the endpoint's current health state.")
        for (id, health) in state.health.sorted(by: { $0.key < $1.key }) {
            out += "slipstream_endpoint_health{endpoint_id=\"\(id)\",state=\"\(health.rawValue)\"} 1\n"
        }
        family("slipstream_applied_revision", "gauge", "Configuration revision the embedded PoP serves.")
        out += "slipstream_applied_revision \(state.appliedRevision)\n"
        family("slipstream_apply_errors", "gauge", "Resources that failed to apply, with the reason.")
        for (key, message) in state.applyErrors.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "/", maxSplits: 1)
            out += "slipstream_apply_errors{kind=\"\(parts[0])\",id=\"\(parts[1])\",reason=\"\(Self.escape(message))\"} 1\n"
        }
        return out
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: " ")
    }
}
