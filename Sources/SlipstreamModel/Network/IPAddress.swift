#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address, parsed with `inet_pton` and printed in canonical form.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    public init?(_ string: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, string, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
        } else if inet_pton(AF_INET6, string, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            self = .v6(bytes.reduce(UInt128(0)) { ($0 << 8) | UInt128($1) })
        } else {
            return nil
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
        case .v6(let value):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { raw in
                for index in 0..<16 { raw[index] = UInt8(truncatingIfNeeded: value >> (8 * (15 - index))) }
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// An address block such as `127.10.0.0/16`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    public let base: IPAddress
    public let prefix: Int

    public init?(_ string: String) {
        let parts = string.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let prefix = Int(parts[1]) else { return nil }
        let bits = address.isIPv4 ? 32 : 128
        guard prefix >= 0, prefix <= bits else { return nil }
        // Normalise the base to the network address.
        switch address {
        case .v4(let value):
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefix)
            self.base = .v4(value & mask)
        case .v6(let value):
            let mask: UInt128 = prefix == 0 ? 0 : ~UInt128(0) << UInt128(128 - prefix)
            self.base = .v6(value & mask)
        }
        self.prefix = prefix
    }

    public var description: String { "\(self.base)/\(self.prefix)" }

    /// Whether `address` lies in this block (an IPv4 address never lies in an IPv6 block and vice versa).
    public func contains(_ address: IPAddress) -> Bool {
        switch (self.base, address) {
        case (.v4(let base), .v4(let value)):
            let mask: UInt32 = self.prefix == 0 ? 0 : ~UInt32(0) << UInt32(32 - self.prefix)
            return value & mask == base
        case (.v6(let base), .v6(let value)):
            let mask: UInt128 = self.prefix == 0 ? 0 : ~UInt128(0) << UInt128(128 - self.prefix)
            return value & mask == base
        default:
            return false
        }
    }

    /// A block written as `address/prefix`, or a single address (a /32 or /128).
    public init?(parsing text: String) {
        if text.contains("/") {
            self.init(text)
        } else if let address = IPAddress(text) {
            self.init("\(address)/\(address.isIPv4 ? 32 : 128)")
        } else {
            return nil
        }
    }

    /// The addresses that may be handed out, in order: for IPv4 blocks larger than /31 the network and
    /// broadcast addresses are skipped, as is the subnet-router anycast address of IPv6 blocks larger than /127.
    public var usableAddresses: some Sequence<IPAddress> {
        self.usableAddresses(fromOffset: 0)
    }

    /// The usable addresses at or above `start`, in order (all of them when `start` lies below the block, none
    /// when above it or of the other family).
    public func usableAddresses(from start: IPAddress) -> some Sequence<IPAddress> {
        let offset: UInt128? =
            switch (self.base, start) {
            case (.v4(let base), .v4(let value)): value < base ? 0 : UInt128(value - base)
            case (.v6(let base), .v6(let value)): value < base ? 0 : value - base
            default: nil
            }
        // An offset past every usable one (or no offset) leaves nothing.
        return self.usableAddresses(fromOffset: offset ?? UInt128.max)
    }

    private func usableAddresses(fromOffset start: UInt128) -> some Sequence<IPAddress> {
        let bits = self.base.isIPv4 ? 32 : 128
        let hostBits = bits - self.prefix
        let skipEnds = hostBits >= 2
        let count: UInt128 = hostBits >= 128 ? UInt128.max : (UInt128(1) << UInt128(hostBits))
        let last: UInt128 = (self.base.isIPv4 && skipEnds) ? count - 2 : count - 1
        let first: UInt128 = max(skipEnds ? 1 : 0, start)
        let base = self.base
        // An empty range when `first` is past `last`.
        return (first..<(first > last ? first : last + 1)).lazy.map { offset -> IPAddress in
            switch base {
            case .v4(let value): .v4(value + UInt32(truncatingIfNeeded: offset))
            case .v6(let value): .v6(value + offset)
            }
        }
    }
}
