import Foundation
import SlipstreamControlPlane
import SlipstreamDataPlane
import SlipstreamModel

/// Everything `slipstream serve` can be told. Built from the environment and the command line.
///
/// Environment variables (the command line wins over them):
/// - `SLIPSTREAM_HOST` (default `127.0.0.1`), `SLIPSTREAM_PORT` (default `8080`),
///   `SLIPSTREAM_DATA_DIR` (default `./.slipstream`), `SLIPSTREAM_DATABASE_URL` (default none: SQLite in the data
///   directory; with it, `SLIPSTREAM_MASTER_KEY` is required)
/// - `SLIPSTREAM_POOL_OUTOFCM_IPV4` (default `127.10.0.0/16`), `SLIPSTREAM_POOL_CM_IPV4` (default `127.20.0.0/16`),
///   `SLIPSTREAM_POOL_OUTOFCM_IPV6`, `SLIPSTREAM_POOL_CM_IPV6` (default empty): comma-separated CIDR blocks
/// - `SLIPSTREAM_REGIONS`: comma-separated `region_id:AREA` (default
///   `ap-southeast-1:OUTOFCM,ap-southeast-3:OUTOFCM,cn-east-3:CM,cn-north-4:CM`)
/// - `SLIPSTREAM_QUOTA_ACCELERATORS` (20), `SLIPSTREAM_QUOTA_LISTENERS_PER_ACCELERATOR` (10),
///   `SLIPSTREAM_QUOTA_ENDPOINTS_PER_GROUP` (10), `SLIPSTREAM_QUOTA_IP_GROUPS` (50),
///   `SLIPSTREAM_QUOTA_PORTS_PER_ACCOUNT` (2000: listener ports × accelerator addresses)
/// - `SLIPSTREAM_HTTP_IDLE_TIMEOUT_SECONDS` (60), `SLIPSTREAM_HTTP_REQUEST_TIMEOUT_SECONDS` (30),
///   `SLIPSTREAM_HTTP_MAX_CONNECTIONS` (1024): API connection bounds
/// - `SLIPSTREAM_MAX_BODY_BYTES` (1048576), `SLIPSTREAM_CLOCK_SKEW_SECONDS` (900),
///   `SLIPSTREAM_TOKEN_TTL_SECONDS` (86400), `SLIPSTREAM_LOG_LEVEL` (info)
/// - `SLIPSTREAM_MASTER_KEY`: base64 of 32 bytes; replaces the key file `master.key` in the data directory
/// - `SLIPSTREAM_DATA_PLANE` (`on`), `SLIPSTREAM_POP_REGION` (the first region), `SLIPSTREAM_CONNECT_TIMEOUT_MS` (2000),
///   `SLIPSTREAM_DRAIN_TIMEOUT_SECONDS` (30), `SLIPSTREAM_UDP_IDLE_TIMEOUT_SECONDS` (60), `SLIPSTREAM_UDP_MAX_SESSIONS` (10000 per listener),
///   `SLIPSTREAM_UDP_MAX_SESSIONS_PER_PROCESS` (a quarter of the open-file limit), `SLIPSTREAM_UDP_RECEIVE_BUFFER_BYTES`
///   (4096-268435456; default the kernel's `net.core.rmem_default`): `SO_RCVBUF` of every UDP socket
/// - `SLIPSTREAM_POP_ID` (`embedded`), `SLIPSTREAM_BYOIP_POOLS`: comma-separated `CIDR=AREA` (default none),
///   `SLIPSTREAM_ACCESS_LOG_MAX_BYTES` (10485760)
/// - `SLIPSTREAM_POP_STALE_SECONDS` (15): a PoP whose last report is older is stale (`ERROR` in `GET /v1/pops`)
///   and holds nothing back
public struct SlipstreamConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = ".slipstream"
    /// A PostgreSQL database shared by several API replicas (`postgres://user[:password]@host[:port]/database`);
    /// nil keeps the embedded SQLite file in the data directory.
    public var databaseURL: String?
    /// Address pools keyed by `AREA/IP_TYPE`, e.g. `OUTOFCM/IPV4`.
    public var pools: [String: [CIDR]] = [
        "OUTOFCM/IPV4": [CIDR("127.10.0.0/16")!],
        "CM/IPV4": [CIDR("127.20.0.0/16")!],
        "OUTOFCM/IPV6": [],
        "CM/IPV6": [],
    ]
    public var regions: [RegionInfo] = [
        RegionInfo(regionID: "ap-southeast-1", area: .outsideChineseMainland),
        RegionInfo(regionID: "ap-southeast-3", area: .outsideChineseMainland),
        RegionInfo(regionID: "cn-east-3", area: .chineseMainland),
        RegionInfo(regionID: "cn-north-4", area: .chineseMainland),
    ]
    public var quotas = Quotas()
    public var maxBodyBytes = 1 << 20
    /// An API connection with no request in progress is closed after this long (s); it bounds the wait for a
    /// complete request head too.
    public var httpIdleTimeoutSeconds = 60
    /// The longest one API request may take from its head to the end of its body (s).
    public var httpRequestTimeoutSeconds = 30
    /// Open API connections at most; at the cap the server accepts no more until one closes.
    public var httpMaxConnections = 1024
    public var clockSkewSeconds = 900
    public var tokenLifetimeSeconds = 86_400
    public var logLevel = "info"
    /// Base64 master key; when nil the key lives in `master.key` in the data directory.
    public var masterKey: String?
    /// Run the embedded PoP (the data plane). Without it a committed write counts as applied.
    public var dataPlaneEnabled = true
    /// Region of the embedded PoP; nil means the first configured region.
    public var popRegion: String?
    public var connectTimeoutMilliseconds = 2000
    public var drainTimeoutSeconds = 30
    public var udpIdleTimeoutSeconds = 60
    /// UDP sessions per listener, over all its ports.
    public var udpMaxSessions = 10_000
    /// UDP sessions of the whole process; nil derives it from the open-file limit (a quarter of it).
    public var udpMaxSessionsPerProcess: Int?
    /// `SO_RCVBUF` in bytes of every data-plane UDP socket; nil keeps the kernel's default.
    public var udpReceiveBufferBytes: Int?
    /// Identifier of the embedded PoP in `GET /v1/pops`.
    public var popID = "embedded"
    /// Pools listed by `GET /v1/byoip-pools`.
    public var byoipPools: [BYOIPPool] = []
    /// An access-log file is rotated before it would grow past this.
    public var accessLogMaxBytes = 10 << 20
    /// A PoP whose last report is older than this (s) is stale.
    public var popStaleAfterSeconds = 15

    /// The region the embedded PoP serves.
    public var effectivePopRegion: String { self.popRegion ?? self.regions.first?.regionID ?? "local" }

    public init() {}

    /// What the control plane's rules need of this configuration.
    public var controlPlane: ControlPlaneSettings {
        var settings = ControlPlaneSettings(pools: self.pools, regions: self.regions, quotas: self.quotas)
        settings.popStaleAfterMilliseconds = Int64(self.popStaleAfterSeconds) * 1000
        return settings
    }

    /// The data-plane settings of a PoP of this configuration (embedded, or remote with its credential's id and
    /// region).
    public func popConfiguration(popID: String, regionID: String) -> PoPConfiguration {
        var pop = PoPConfiguration(regionID: regionID)
        pop.popID = popID
        pop.connectTimeout = .milliseconds(Int64(self.connectTimeoutMilliseconds))
        pop.drainTimeout = .seconds(Int64(self.drainTimeoutSeconds))
        pop.udpIdleTimeout = .seconds(Int64(self.udpIdleTimeoutSeconds))
        pop.udpMaxSessions = self.udpMaxSessions
        if let perProcess = self.udpMaxSessionsPerProcess { pop.udpMaxSessionsPerProcess = perProcess }
        pop.udpReceiveBufferBytes = self.udpReceiveBufferBytes
        return pop
    }

    /// Reads the `SLIPSTREAM_*` variables over the defaults.
    public init(environment: [String: String]) throws(ConfigurationError) {
        self.init()
        func value(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        func integer(_ name: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let raw = value(name) else { return nil }
            guard let number = Int(raw), range.contains(number) else {
                throw ConfigurationError("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got \(raw)")
            }
            return number
        }
        if let host = value("SLIPSTREAM_HOST") { self.host = host }
        if let port = try integer("SLIPSTREAM_PORT", 0...65535) { self.port = port }
        if let dir = value("SLIPSTREAM_DATA_DIR") { self.dataDirectory = dir }
        if let url = value("SLIPSTREAM_DATABASE_URL") { self.databaseURL = url }
        for key in self.pools.keys.sorted() {
            let name = "SLIPSTREAM_POOL_" + key.replacingOccurrences(of: "/", with: "_")
            guard let raw = environment[name] else { continue }
            var blocks: [CIDR] = []
            for part in raw.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
                guard let block = CIDR(part), block.base.isIPv4 == key.hasSuffix("IPV4") else {
                    throw ConfigurationError("\(name): \(part) is not an \(key.hasSuffix("IPV4") ? "IPv4" : "IPv6") CIDR block")
                }
                blocks.append(block)
            }
            self.pools[key] = blocks
        }
        if let raw = value("SLIPSTREAM_REGIONS") {
            var regions: [RegionInfo] = []
            for part in raw.split(separator: ",") {
                let fields = part.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.count == 2, !fields[0].isEmpty, let area = Area(rawValue: fields[1]) else {
                    throw ConfigurationError("SLIPSTREAM_REGIONS: \(part) is not region_id:CM or region_id:OUTOFCM")
                }
                regions.append(RegionInfo(regionID: fields[0], area: area))
            }
            guard !regions.isEmpty else { throw ConfigurationError("SLIPSTREAM_REGIONS names no region") }
            self.regions = regions
        }
        if let n = try integer("SLIPSTREAM_QUOTA_ACCELERATORS", 0...1_000_000) { self.quotas.acceleratorsPerAccount = n }
        if let n = try integer("SLIPSTREAM_QUOTA_LISTENERS_PER_ACCELERATOR", 0...1_000_000) { self.quotas.listenersPerAccelerator = n }
        if let n = try integer("SLIPSTREAM_QUOTA_ENDPOINTS_PER_GROUP", 0...1_000_000) { self.quotas.endpointsPerGroup = n }
        if let n = try integer("SLIPSTREAM_QUOTA_IP_GROUPS", 0...1_000_000) { self.quotas.ipGroupsPerAccount = n }
        if let n = try integer("SLIPSTREAM_QUOTA_PORTS_PER_ACCOUNT", 0...10_000_000) { self.quotas.listenerPortsPerAccount = n }
        if let n = try integer("SLIPSTREAM_MAX_BODY_BYTES", 1024...(64 << 20)) { self.maxBodyBytes = n }
        if let n = try integer("SLIPSTREAM_HTTP_IDLE_TIMEOUT_SECONDS", 1...3600) { self.httpIdleTimeoutSeconds = n }
        if let n = try integer("SLIPSTREAM_HTTP_REQUEST_TIMEOUT_SECONDS", 1...3600) { self.httpRequestTimeoutSeconds = n }
        if let n = try integer("SLIPSTREAM_HTTP_MAX_CONNECTIONS", 1...1_000_000) { self.httpMaxConnections = n }
        if let n = try integer("SLIPSTREAM_CLOCK_SKEW_SECONDS", 1...86_400) { self.clockSkewSeconds = n }
        if let n = try integer("SLIPSTREAM_TOKEN_TTL_SECONDS", 60...(7 * 86_400)) { self.tokenLifetimeSeconds = n }
        if let level = value("SLIPSTREAM_LOG_LEVEL") { self.logLevel = level }
        self.masterKey = value("SLIPSTREAM_MASTER_KEY")
        if let raw = value("SLIPSTREAM_DATA_PLANE") {
            guard ["on", "off"].contains(raw) else { throw ConfigurationError("SLIPSTREAM_DATA_PLANE must be on or off, got \(raw)") }
            self.dataPlaneEnabled = raw == "on"
        }
        if let region = value("SLIPSTREAM_POP_REGION") {
            guard self.regions.contains(where: { $0.regionID == region }) else {
                throw ConfigurationError("SLIPSTREAM_POP_REGION \(region) is not one of the configured regions")
            }
            self.popRegion = region
        }
        if let n = try integer("SLIPSTREAM_CONNECT_TIMEOUT_MS", 10...60_000) { self.connectTimeoutMilliseconds = n }
        if let n = try integer("SLIPSTREAM_DRAIN_TIMEOUT_SECONDS", 0...3600) { self.drainTimeoutSeconds = n }
        if let n = try integer("SLIPSTREAM_UDP_IDLE_TIMEOUT_SECONDS", 1...3600) { self.udpIdleTimeoutSeconds = n }
        if let n = try integer("SLIPSTREAM_UDP_MAX_SESSIONS", 1...1_000_000) { self.udpMaxSessions = n }
        if let n = try integer("SLIPSTREAM_UDP_MAX_SESSIONS_PER_PROCESS", 1...10_000_000) { self.udpMaxSessionsPerProcess = n }
        if let n = try integer("SLIPSTREAM_UDP_RECEIVE_BUFFER_BYTES", 4096...(1 << 28)) { self.udpReceiveBufferBytes = n }
        if let n = try integer("SLIPSTREAM_POP_STALE_SECONDS", 2...3600) { self.popStaleAfterSeconds = n }
        if let n = try integer("SLIPSTREAM_ACCESS_LOG_MAX_BYTES", 1024...(1 << 30)) { self.accessLogMaxBytes = n }
        if let id = value("SLIPSTREAM_POP_ID") {
            guard PoPCredential.isValidID(id) else { throw ConfigurationError("SLIPSTREAM_POP_ID must be 1-36 letters, digits and '-'") }
            self.popID = id
        }
        if let raw = value("SLIPSTREAM_BYOIP_POOLS") {
            self.byoipPools = []
            for part in raw.split(separator: ",") {
                let fields = part.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.count == 2, let block = CIDR(fields[0]), let area = Area(rawValue: fields[1]) else {
                    throw ConfigurationError("SLIPSTREAM_BYOIP_POOLS: \(part) is not CIDR=CM or CIDR=OUTOFCM")
                }
                self.byoipPools.append(BYOIPPool(cidr: block, area: area))
            }
        }
    }
}
