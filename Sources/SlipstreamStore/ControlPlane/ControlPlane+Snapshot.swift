import SQLKit
import SlipstreamCore

extension ControlPlane {
    /// The configuration every PoP serves: all resources of all accounts that are not being deleted, at the
    /// revision they were read at.
    public func snapshot() async throws -> ConfigSnapshot {
        try await self.read { db in
            let revision = try await ResourceRepository.currentRevision(on: db)
            var snapshot = ConfigSnapshot(revision: revision)
            for accelerator in try await ResourceRepository.live(AcceleratorSpec.self, on: db) {
                snapshot.accelerators.append(.init(id: accelerator.id, addresses: accelerator.spec.ipSets.map(\.ipAddress)))
            }
            for listener in try await ResourceRepository.live(ListenerSpec.self, on: db) {
                snapshot.listeners.append(
                    .init(
                        id: listener.id,
                        acceleratorID: listener.parentID ?? "",
                        protocol: listener.spec.protocol,
                        portRanges: listener.spec.portRanges,
                        clientAffinity: listener.spec.clientAffinity
                    )
                )
            }
            for group in try await ResourceRepository.live(EndpointGroupSpec.self, on: db) {
                snapshot.endpointGroups.append(
                    .init(
                        id: group.id,
                        listenerID: group.parentID ?? "",
                        regionID: group.spec.regionID,
                        trafficDialPercentage: group.spec.trafficDialPercentage
                    )
                )
            }
            for endpoint in try await ResourceRepository.live(EndpointSpec.self, on: db) {
                snapshot.endpoints.append(
                    .init(id: endpoint.id, groupID: endpoint.parentID ?? "", address: endpoint.spec.ipAddress, weight: endpoint.spec.weight)
                )
            }
            for check in try await ResourceRepository.live(HealthCheckSpec.self, on: db) {
                snapshot.healthChecks.append(
                    .init(
                        id: check.id,
                        groupID: check.parentID ?? "",
                        protocol: check.spec.protocol,
                        port: check.spec.port,
                        interval: check.spec.interval,
                        timeout: check.spec.timeout,
                        maxRetries: check.spec.maxRetries,
                        enabled: check.spec.enabled
                    )
                )
            }
            for group in try await ResourceRepository.live(IPGroupSpec.self, on: db) {
                for binding in group.spec.associatedListeners {
                    snapshot.accessControls.append(
                        .init(listenerID: binding.listenerID, type: binding.type, cidrs: group.spec.ipList.map(\.cidr))
                    )
                }
            }
            for logtank in try await ResourceRepository.live(LogtankSpec.self, on: db) {
                snapshot.logSinks.append(
                    .init(listenerID: logtank.parentID ?? "", logGroupID: logtank.spec.logGroupID, logStreamID: logtank.spec.logStreamID)
                )
            }
            return snapshot
        }
    }

    /// Records what a PoP reported: resources written at or before its applied revision become `ACTIVE`, or
    /// `ERROR` when it could not apply them; `DELETING` ones at or before it are removed; endpoints show the
    /// health it saw (unless their health check changed after that revision).
    public func settle(_ report: PoPReport) async throws {
        let applied = report.appliedRevision
        let failed = report.errors.map(\.id)
        try await self.database.write { db in
            try await db.raw(
                "UPDATE resources SET status = 'ACTIVE' WHERE status IN ('PENDING', 'ERROR') AND revision <= \(bind: applied)"
            ).run()
            for id in failed {
                try await db.raw(
                    "UPDATE resources SET status = 'ERROR' WHERE id = \(bind: id) AND status = 'ACTIVE' AND revision <= \(bind: applied)"
                ).run()
            }
            try await db.raw(
                """
                DELETE FROM addresses WHERE accelerator_id IN (SELECT id FROM resources
                    WHERE kind = 'accelerator' AND status = 'DELETING' AND revision <= \(bind: applied))
                """
            ).run()
            try await db.raw("DELETE FROM resources WHERE status = 'DELETING' AND revision <= \(bind: applied)").run()
            for entry in report.health {
                try await db.raw(
                    """
                    UPDATE resources SET health_state = \(bind: entry.state.rawValue)
                    WHERE id = \(bind: entry.endpointID) AND kind = 'endpoint' AND revision <= \(bind: applied)
                        AND (health_state IS NULL OR health_state <> \(bind: entry.state.rawValue))
                        AND NOT EXISTS (SELECT 1 FROM resources checks WHERE checks.kind = 'health_check'
                            AND checks.parent_id = resources.parent_id AND checks.revision > \(bind: applied))
                    """
                ).run()
            }
        }
    }
}
