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

    private static func clamp(_ value: rlim_t) -> Int {
        value >= rlim_t(Int.max) ? Int.max : Int(value)
    }
}
