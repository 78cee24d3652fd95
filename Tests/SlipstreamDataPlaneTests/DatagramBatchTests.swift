import CSlipstreamLinux
import Glibc
import Testing

@testable import SlipstreamDataPlane
@testable import SlipstreamTestSupport

/// The flow loops' datagram batch (`recvmmsg`/`sendmmsg`) on real UDP sockets on loopback: a call takes at most a
/// batch, in arrival order, with each source; a send carries every whole datagram, in order, at its own length.
struct DatagramBatchTests {
    @Test func aBatchTakesWaitingDatagramsInOrderAndSendsThemOnWhole() throws {
        let sender = try UDPSocket()
        let relay = try UDPSocket()
        let receiver = try UDPSocket()
        defer { [sender, relay, receiver].forEach { close($0.fd) } }
        guard let batch = cslipstream_batch_create(16, 65_536) else { Issue.record("no batch"); return }
        defer { cslipstream_batch_destroy(batch) }

        #expect(cslipstream_batch_receive(batch, relay.fd) == -1 && errno == EAGAIN)
        let payloads = (0..<20).map { index in [UInt8](repeating: UInt8(index), count: 1 + index * 3_000) }
        for payload in payloads { #expect(sender.send(payload, to: relay) == payload.count) }

        // 20 wait: the first call takes a whole batch of 16, the next the other 4.
        #expect(cslipstream_batch_receive(batch, relay.fd) == 16)
        for index in 0..<16 {
            #expect(cslipstream_batch_length(batch, UInt32(index)) == payloads[index].count)
            #expect(port(of: cslipstream_batch_source(batch, UInt32(index)).pointee) == sender.port)
        }
        var address = receiver.address
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { cslipstream_batch_send(batch, relay.fd, 16, $0, length) }
        }
        for index in 0..<16 { #expect(cslipstream_batch_sent(batch, UInt32(index)) == payloads[index].count) }
        #expect(cslipstream_batch_receive(batch, relay.fd) == 4)
        #expect(cslipstream_batch_length(batch, 3) == payloads[19].count)

        for index in 0..<16 { #expect(receiver.receive() == payloads[index]) }
        #expect(receiver.receive() == nil)
    }

    /// A socket with `SO_RXQ_OVFL` on reports how many datagrams the kernel dropped for its full buffer with the
    /// datagrams it queues after them: what it received plus the latest count is what was sent.
    @Test func aBatchReportsTheDatagramsTheKernelDroppedForAFullBuffer() async throws {
        let sender = try UDPSocket()
        let relay = try UDPSocket(receiveBuffer: 4_096)
        defer { [sender, relay].forEach { close($0.fd) } }
        var on: Int32 = 1
        #expect(setsockopt(relay.fd, SOL_SOCKET, SO_RXQ_OVFL, &on, socklen_t(MemoryLayout<Int32>.size)) == 0)
        guard let batch = cslipstream_batch_create(16, 65_536) else { Issue.record("no batch"); return }
        defer { cslipstream_batch_destroy(batch) }

        let payload = [UInt8](repeating: 7, count: 1_000)
        var sent = 0
        for _ in 0..<100 where sender.send(payload, to: relay) == payload.count { sent += 1 }
        #expect(sent == 100)
        // Drain what the buffer held, then send one more at a time until a datagram queued after the drops
        // reports them.
        var received = 0
        var latest: Int64 = -1
        let accounted = try await eventually {
            while case let count = cslipstream_batch_receive(batch, relay.fd), count > 0 {
                received += Int(count)
                let reported = cslipstream_batch_drop_count(batch, UInt32(count))
                if reported >= 0 { latest = reported }
            }
            if latest > 0 && received + Int(latest) == sent { return true }
            if sender.send(payload, to: relay) == payload.count { sent += 1 }
            return false
        }
        #expect(accounted, "\(received) received, \(latest) reported dropped, of \(sent) sent")
        #expect(received < 100, "the 8 KiB buffer held \(received) of the first 100")
    }

    /// Counts compare as wrapping sequence numbers: a stale (smaller) count adds nothing, a wrapped one adds the
    /// distance.
    @Test func dropCountsAdvanceOnlyForward() {
        var drops = ReceiveBufferDrops()
        #expect(drops.advance(to: -1) == 0)
        #expect(drops.advance(to: 5) == 5)
        #expect(drops.advance(to: 5) == 0)
        #expect(drops.advance(to: 3) == 0)
        #expect(drops.advance(to: 7) == 2)
        #expect(drops.advance(to: 0xFFFF_FFF0) == 0)  // 23 behind 7, modulo 2^32: stale
        var wrapping = ReceiveBufferDrops()
        #expect(wrapping.advance(to: 0x7FFF_FFF0) == 0x7FFF_FFF0)
        #expect(wrapping.advance(to: 0xFFFF_FF00) == 0x7FFF_FF10)
        #expect(wrapping.advance(to: 0x10) == 0x110)  // past 2^32: wrapped
    }

    @Test func aDatagramLongerThanASlotIsReportedAtItsLengthAndNotSent() throws {
        let sender = try UDPSocket()
        let relay = try UDPSocket()
        let receiver = try UDPSocket()
        defer { [sender, relay, receiver].forEach { close($0.fd) } }
        guard let batch = cslipstream_batch_create(4, 1_000) else { Issue.record("no batch"); return }
        defer { cslipstream_batch_destroy(batch) }
        let payloads = [[UInt8](repeating: 1, count: 1_000), [UInt8](repeating: 2, count: 1_001), [UInt8](repeating: 3, count: 10)]
        for payload in payloads { #expect(sender.send(payload, to: relay) == payload.count) }
        #expect(cslipstream_batch_receive(batch, relay.fd) == 3)
        #expect(cslipstream_batch_length(batch, 1) == 1_001)
        var address = receiver.address
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                cslipstream_batch_send(batch, relay.fd, 3, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(cslipstream_batch_sent(batch, 0) == 1_000)
        #expect(cslipstream_batch_sent(batch, 1) == -2)
        #expect(cslipstream_batch_sent(batch, 2) == 10)
        #expect(receiver.receive() == payloads[0])
        #expect(receiver.receive() == payloads[2])
        #expect(receiver.receive() == nil)
    }
}

/// A non-blocking UDP socket bound to 127.0.0.1 on a free port.
private struct UDPSocket {
    let fd: Int32
    let address: sockaddr_in
    var port: UInt16 { UInt16(bigEndian: self.address.sin_port) }

    /// - Parameter receiveBuffer: `SO_RCVBUF` in bytes (the kernel doubles it).
    init(receiveBuffer: Int32 = 1 << 21) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_NONBLOCK.rawValue), 0)
        var address = BlockingSocket.ipv4("127.0.0.1", 0)
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound else { throw SocketFailure(code: errno) }
        self.fd = fd
        self.address = address
    }

    func send(_ bytes: [UInt8], to other: UDPSocket) -> Int {
        var address = other.address
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(self.fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// The next waiting datagram, or nil when none waits.
    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = recv(self.fd, &buffer, buffer.count, 0)
        return count >= 0 ? Array(buffer[0..<count]) : nil
    }
}

private struct SocketFailure: Error {
    let code: Int32
}

private func port(of address: sockaddr_storage) -> UInt16 {
    var address = address
    return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
}
