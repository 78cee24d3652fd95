import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's open-file limit (`RLIMIT_NOFILE`), which bounds listening sockets, flows and API connections alike.
public enum DescriptorLimit {
    /// The soft and hard limits now; nil when they cannot be read.
    public static func current() -> (soft: Int, hard: Int)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return (Self.clamp(limit.rlim_cur), Self.clamp(limit.rlim_max))
    }

    /// Raises the soft limit to the hard limit, as HAProxy and nginx do at start (services are often started with a
    /// soft limit of 1024 and a much higher hard limit). Returns the limits before and after; nil when they cannot
    /// be read.
    @discardableResult
    public static func raiseSoftLimitToHard() -> (before: Int, after: Int, hard: Int)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let before = Self.clamp(limit.rlim_cur)
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
                // Some systems refuse RLIM_INFINITY for descriptors; the kernel's per-process maximum still works.
                raised.rlim_cur = rlim_t(1 << 20)
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
            }
        }
        guard let now = self.current() else { return nil }
        return (before, now.soft, now.hard)
    }

    /// The listening sockets a PoP may hold under a soft limit of `softLimit` descriptors: half of them, leaving the
    /// other half for flows (2 per TCP flow, 1 per UDP session), API connections, the database and logs.
    public static func listeningSocketBudget(softLimit: Int) -> Int { max(0, softLimit / 2) }

    /// The UDP sessions a PoP may hold under a soft limit of `softLimit` descriptors: a quarter of them (each
    /// session holds one socket), so sessions alone never exhaust what listening sockets and TCP flows need.
    public static func udpSessionBudget(softLimit: Int) -> Int { max(1, softLimit / 4) }

    private static func clamp(_ value: rlim_t) -> Int {
        value >= rlim_t(Int.max) ? Int.max : Int(value)
    }
}

/// Looking up endpoint domain names (`CUSTOM_DOMAIN_NAME`).
enum DomainName {
    /// `host`'s first IPv4 address, else its first IPv6 address, with port 0; nil when it does not resolve.
    /// Blocks in getaddrinfo: call it off the event loops.
    static func resolve(_ host: String) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(first) }
        var ipv6: SocketAddress?
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if info.pointee.ai_family == AF_INET, let raw = info.pointee.ai_addr {
                let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                return SocketAddress(address, host: host)
            }
            if info.pointee.ai_family == AF_INET6, ipv6 == nil, let raw = info.pointee.ai_addr {
                let address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                ipv6 = SocketAddress(address, host: host)
            }
            cursor = info.pointee.ai_next
        }
        return ipv6
    }
}
