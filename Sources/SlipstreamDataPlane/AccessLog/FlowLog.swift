import Atomics
import NIOCore
import SlipstreamModel

/// What the access log needs to know about one flow while it runs.
final class FlowLog: Sendable {
    let sink: LogSink
    let writer: AccessLogWriter
    let listenerID: String
    let proto: ListenerProtocol
    let client: SocketAddress?
    let accelerator: SocketAddress?
    let started = ContinuousClock.now
    let bytesIn = ManagedAtomic<Int>(0)
    let bytesOut = ManagedAtomic<Int>(0)

    init(sink: LogSink, writer: AccessLogWriter, listenerID: String, proto: ListenerProtocol, client: SocketAddress?, accelerator: SocketAddress?) {
        self.sink = sink
        self.writer = writer
        self.listenerID = listenerID
        self.proto = proto
        self.client = client
        self.accelerator = accelerator
    }

    func finish(endpoint: PlannedEndpoint?, end: String) {
        let elapsed = ContinuousClock.now - self.started
        let milliseconds = Int(elapsed.components.seconds * 1000) + Int(elapsed.components.attoseconds / 1_000_000_000_000_000)
        self.writer.record(
            AccessLogRecord(
                time: Timestamp.now(),
                listenerID: self.listenerID,
                protocol: self.proto,
                clientAddress: self.client?.ipAddress ?? "",
                clientPort: self.client?.port ?? 0,
                acceleratorAddress: self.accelerator?.ipAddress ?? "",
                acceleratorPort: self.accelerator?.port ?? 0,
                endpointID: endpoint?.id,
                endpointAddress: endpoint?.host,
                bytesIn: self.bytesIn.load(ordering: .relaxed),
                bytesOut: self.bytesOut.load(ordering: .relaxed),
                durationMs: milliseconds,
                end: end
            ),
            to: self.sink
        )
    }
}
