import Foundation
import Testing

@testable import SlipstreamModel

@Suite struct StringRuleTests {
    @Test func namesAndDescriptions() {
        #expect(StringPattern.name.violation(in: "ga-1") == nil)
        #expect(StringPattern.name.violation(in: "加速器") == nil)
        #expect(StringPattern.name.violation(in: "ga_1") != nil)
        #expect(StringPattern.description.violation(in: "a > b") != nil)
        #expect(StringPattern.tagKey.violation(in: "_sys_x") != nil)
        #expect(StringPattern.tagValue.violation(in: "a/b") == nil)
        #expect(StringPattern.tagKey.violation(in: "a/b") != nil)
    }

    @Test func portRanges() {
        #expect(throws: Never.self) { try PortRange.check([.init(fromPort: 80, toPort: 80), .init(fromPort: 443, toPort: 443)], protocol: .tcp) }
        #expect(throws: GAError.self) { try PortRange.check([.init(fromPort: 80, toPort: 90), .init(fromPort: 85, toPort: 85)], protocol: .tcp) }
        #expect(throws: GAError.self) { try PortRange.check([.init(fromPort: 4789, toPort: 4789)], protocol: .udp) }
        #expect(throws: Never.self) { try PortRange.check([.init(fromPort: 4789, toPort: 4789)], protocol: .tcp) }
    }
}

@Suite struct AddressTests {
    @Test func parsing() {
        #expect(IPAddress("127.0.0.1")?.description == "127.0.0.1")
        #expect(IPAddress("::1")?.description == "::1")
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPAddress("300.1.1.1") == nil)
        #expect(IPAddress("example.com") == nil)
    }

    @Test func poolsSkipNetworkAndBroadcast() throws {
        let block = try #require(CIDR("127.10.0.7/30"))
        #expect(block.description == "127.10.0.4/30")
        #expect(block.usableAddresses.map(\.description) == ["127.10.0.5", "127.10.0.6"])
        #expect(try #require(CIDR("10.0.0.1/32")).usableAddresses.map(\.description) == ["10.0.0.1"])
        #expect(Array(try #require(CIDR("fd00::/64")).usableAddresses.prefix(2)).map(\.description) == ["fd00::1", "fd00::2"])
        #expect(CIDR("127.0.0.0/33") == nil)
    }

    /// Where an address search resumes: the usable addresses of a block at or above a given one.
    @Test func usableAddressesFromAnAddress() {
        let block = CIDR("10.0.0.0/29")!
        func from(_ start: String) -> [String] { block.usableAddresses(from: IPAddress(start)!).map(\.description) }
        #expect(from("10.0.0.5") == ["10.0.0.5", "10.0.0.6"])
        // Below the block: all of it, network address still skipped; above it, or the broadcast: none.
        #expect(from("9.255.255.255") == (1...6).map { "10.0.0.\($0)" })
        #expect(from("10.0.0.0") == (1...6).map { "10.0.0.\($0)" })
        #expect(from("10.0.0.7").isEmpty)
        #expect(from("10.0.1.0").isEmpty)
        #expect(from("fd00::1").isEmpty)
        #expect(CIDR("fd00::/126")!.usableAddresses(from: IPAddress("fd00::2")!).map(\.description) == ["fd00::2", "fd00::3"])
    }
}

@Suite struct IdentityTests {
    @Test func idsSortInCreationOrder() {
        let generator = ResourceIDGenerator()
        let ids = (0..<5000).map { _ in generator.next() }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 36 && UUID(uuidString: $0) != nil })
    }
}
