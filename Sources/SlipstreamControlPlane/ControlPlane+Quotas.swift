import SlipstreamModel

/// One quota as `GET /v1/{domain_id}/ga/quotas` shows it.
public struct QuotaUsage: Sendable, Equatable, Encodable {
    public var type: String
    public var min: Int
    public var max: Int
    public var quota: Int
    /// Current use: the count for per-account quotas, the fullest parent for per-parent quotas (the figure the
    /// next create is checked against).
    public var used: Int
}

extension ControlPlane {
    /// The caller's quotas with their use, from the same limits the write paths enforce.
    public func quotas(domainID: String) async throws -> [QuotaUsage] {
        let limits = self.settings.quotas.all
        let used = try await self.read { tx in
            let listeners = try await tx.all(ListenerSpec.self, domainID: domainID)
            let endpoints = try await tx.all(EndpointSpec.self, domainID: domainID)
            let groups = try await tx.all(IPGroupSpec.self, domainID: domainID)
            func fullest<S>(_ items: [Resource<S>]) -> Int {
                Dictionary(grouping: items, by: { $0.parentID ?? "" }).values.map(\.count).max() ?? 0
            }
            return [
                "accelerator_per_tenant": try await tx.count(.accelerator, domainID: domainID),
                "listener_per_accelerator": fullest(listeners),
                "endpoint_per_endpoint_group": fullest(endpoints),
                "ip_group_per_tenant": groups.count,
                "listener_port_per_tenant": try await Self.listenerPorts(domainID: domainID, on: tx),
                "ip_per_ip_group": groups.map(\.spec.ipList.count).max() ?? 0,
                "listener_per_ip_group": groups.map(\.spec.associatedListeners.count).max() ?? 0,
            ]
        }
        return limits.map { QuotaUsage(type: $0.type, min: 0, max: $0.limit, quota: $0.limit, used: used[$0.type] ?? 0) }
    }
}
