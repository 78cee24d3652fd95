import SlipstreamModel

/// How a resource's status moves when a PoP reports: a value-type rule, separate from any store.
///
/// A write leaves a resource `PENDING` (or `DELETING`) at the revision it committed. A report of a revision at or
/// past that one settles it: `ACTIVE` when the PoP applied it, `ERROR` when the PoP named it among its apply errors,
/// gone when it was `DELETING`. A report of an older revision changes nothing (the GA API reference's `ConfigStatus`;
/// `../shared/DESIGN.md`, "Status is the truth").
public enum ResourceLifecycle {
    /// What a report does to one resource.
    public enum Transition: Sendable, Equatable {
        case unchanged
        case become(ResourceStatus)
        case remove
    }

    /// The transition of a resource in `status`, last written at `revision`, when a PoP reports `appliedRevision`
    /// with `failed` telling whether the resource is among its apply errors.
    public static func transition(
        status: ResourceStatus,
        revision: Int64,
        appliedRevision: Int64,
        failed: Bool
    ) -> Transition {
        guard revision <= appliedRevision else { return .unchanged }
        switch status {
        case .deleting:
            return .remove
        case .pending, .error, .active:
            let settled: ResourceStatus = failed ? .error : .active
            return settled == status ? .unchanged : .become(settled)
        }
    }

    /// Whether a PoP's health verdict for an endpoint written at `endpointRevision` may be recorded: the PoP must
    /// have applied the endpoint, and the group's health check must not have changed after the revision the PoP
    /// probed with (a changed check starts from `INITIAL` until the PoP applies it).
    public static func acceptsHealth(endpointRevision: Int64, healthCheckRevision: Int64?, appliedRevision: Int64) -> Bool {
        endpointRevision <= appliedRevision && (healthCheckRevision ?? 0) <= appliedRevision
    }

    /// The health the API shows for an endpoint several PoPs see: the state they all see, else the state most of
    /// them see; a tie goes to the worse state (`UNHEALTHY`, then `INITIAL`, `HEALTHY`, `NO_MONITOR`), so an endpoint
    /// half the PoPs cannot reach is not shown healthy. Nil for no views.
    public static func healthVerdict(_ views: [HealthState]) -> HealthState? {
        let severity: [HealthState] = [.unhealthy, .initial, .healthy, .noMonitor]
        var counts: [HealthState: Int] = [:]
        for view in views { counts[view, default: 0] += 1 }
        return severity.filter { counts[$0] != nil }.max { counts[$0]! < counts[$1]! }
    }
}
