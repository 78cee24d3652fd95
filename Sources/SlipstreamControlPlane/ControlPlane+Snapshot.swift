import SlipstreamModel

extension ControlPlane {
    /// The configuration every PoP serves: all resources of all accounts that are not being deleted, at the
    /// revision they were read at.
    public func snapshot() async throws -> ConfigSnapshot {
        try await self.read { tx in
            let revision = try await tx.currentRevision()
            var snapshot = ConfigSnapshot(revision: revision)
            for accelerator in try await tx.live(AcceleratorSpec.self) {
                snapshot.accelerators.append(.init(id: accelerator.id, addresses: accelerator.spec.ipSets.map(\.ipAddress)))
            }
            for listener in try await tx.live(ListenerSpec.self) {
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
            for group in try await tx.live(EndpointGroupSpec.self) {
                snapshot.endpointGroups.append(
                    .init(
                        id: group.id,
                        listenerID: group.parentID ?? "",
                        regionID: group.spec.regionID,
                        trafficDialPercentage: group.spec.trafficDialPercentage
                    )
                )
            }
            for endpoint in try await tx.live(EndpointSpec.self) {
                snapshot.endpoints.append(
                    .init(id: endpoint.id, groupID: endpoint.parentID ?? "", address: endpoint.spec.ipAddress, weight: endpoint.spec.weight)
                )
            }
            for check in try await tx.live(HealthCheckSpec.self) {
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
            for group in try await tx.live(IPGroupSpec.self) {
                for binding in group.spec.associatedListeners {
                    snapshot.accessControls.append(
                        .init(listenerID: binding.listenerID, type: binding.type, cidrs: group.spec.ipList.map(\.cidr))
                    )
                }
            }
            for logtank in try await tx.live(LogtankSpec.self) {
                snapshot.logSinks.append(
                    .init(listenerID: logtank.parentID ?? "", logGroupID: logtank.spec.logGroupID, logStreamID: logtank.spec.logStreamID)
                )
            }
            return snapshot
        }
    }

    /// Records what one PoP reported, as a fleet of that PoP alone: see ``settle(_:)-(FleetReport)``.
    public func settle(_ report: PoPReport) async throws {
        try await self.settle(FleetReport(report))
    }

    /// Records what the live PoPs reported, by ``ResourceLifecycle``: resources written at or before the revision
    /// every live PoP applied become `ACTIVE`, or `ERROR` when a live PoP could not apply them; `DELETING` ones at
    /// or before it are removed. An endpoint shows the health verdict (``ResourceLifecycle/healthVerdict(_:)``) of
    /// the PoPs in its endpoint group's region, or of all PoPs when none is there, counting only PoPs that have
    /// applied the endpoint and its group's health check.
    public func settle(_ fleet: FleetReport) async throws {
        let applied = fleet.appliedRevision
        let failed = Set(fleet.failures.keys)
        try await self.store.write { tx in
            for resource in try await tx.unsettled(atOrBefore: applied, orAmong: failed) {
                let transition = ResourceLifecycle.transition(
                    status: resource.status,
                    revision: resource.revision,
                    appliedRevision: applied,
                    failed: failed.contains(resource.id)
                )
                switch transition {
                case .unchanged: break
                case .become(let status): try await tx.setStatus(resource.kind, id: resource.id, status, revision: resource.revision, updatedAt: nil)
                case .remove: try await tx.remove(resource.kind, id: resource.id)
                }
            }
            for (endpointID, votes) in fleet.health {
                guard var endpoint = try await tx.find(EndpointSpec.self, id: endpointID), let groupID = endpoint.parentID else { continue }
                let region = try await tx.find(EndpointGroupSpec.self, id: groupID)?.spec.regionID
                let checkRevision = try await tx.children(HealthCheckSpec.self, of: groupID).map(\.revision).max()
                let inRegion = votes.filter { $0.regionID == region }
                let counted = (inRegion.isEmpty ? votes : inRegion).filter {
                    ResourceLifecycle.acceptsHealth(
                        endpointRevision: endpoint.revision,
                        healthCheckRevision: checkRevision,
                        appliedRevision: $0.appliedRevision
                    )
                }
                guard let verdict = ResourceLifecycle.healthVerdict(counted.map(\.state)), verdict != endpoint.healthState else { continue }
                endpoint.healthState = verdict
                try await tx.update(endpoint)
            }
        }
    }
}
