import Hummingbird
import SlipstreamControlPlane
import SlipstreamModel

/// The GA resource collections served under `/v1`, each a ``ResourceRoutes`` over the control plane.
enum Resources {
    /// `/v1/accelerators`
    static func accelerators(_ controlPlane: ControlPlane) -> ResourceRoutes<
        AcceleratorSpec, AcceleratorOptions.Create, AcceleratorOptions.Update, AcceleratorDetail
    > {
        ResourceRoutes(
            key: "accelerator",
            listKey: "accelerators",
            idParameter: "accelerator_id",
            listFilters: ["id", "name", "status", "enterprise_project_id"],
            detail: AcceleratorDetail.init,
            create: { context, options in try await controlPlane.createAccelerator(domainID: context.caller.domainID, options) },
            list: { context, query, _ in try await controlPlane.accelerators(domainID: context.caller.domainID, query: query) },
            show: { context, id in try await controlPlane.accelerator(domainID: context.caller.domainID, id: id) },
            update: { context, id, options in try await controlPlane.updateAccelerator(domainID: context.caller.domainID, id: id, options) },
            delete: { context, id in try await controlPlane.deleteAccelerator(domainID: context.caller.domainID, id: id) }
        )
    }

    /// `/v1/listeners`
    static func listeners(_ controlPlane: ControlPlane) -> ResourceRoutes<
        ListenerSpec, ListenerOptions.Create, ListenerOptions.Update, ListenerDetail
    > {
        ResourceRoutes(
            key: "listener",
            listKey: "listeners",
            idParameter: "listener_id",
            listFilters: ["id", "name", "status"],
            parentKey: "accelerator_id",
            detail: ListenerDetail.init,
            create: { context, options in try await controlPlane.createListener(domainID: context.caller.domainID, options) },
            list: { context, query, _ in try await controlPlane.listeners(domainID: context.caller.domainID, query: query) },
            show: { context, id in try await controlPlane.listener(domainID: context.caller.domainID, id: id) },
            update: { context, id, options in try await controlPlane.updateListener(domainID: context.caller.domainID, id: id, options) },
            delete: { context, id in try await controlPlane.deleteListener(domainID: context.caller.domainID, id: id) }
        )
    }

    /// `/v1/endpoint-groups`
    static func endpointGroups(
        _ controlPlane: ControlPlane
    ) -> ResourceRoutes<EndpointGroupSpec, EndpointGroupOptions.Create, EndpointGroupOptions.Update, EndpointGroupDetail> {
        ResourceRoutes(
            key: "endpoint_group",
            listKey: "endpoint_groups",
            idParameter: "endpoint_group_id",
            listFilters: ["id", "name", "status"],
            parentKey: "listener_id",
            detail: EndpointGroupDetail.init,
            create: { context, options in try await controlPlane.createEndpointGroup(domainID: context.caller.domainID, options) },
            list: { context, query, _ in try await controlPlane.endpointGroups(domainID: context.caller.domainID, query: query) },
            show: { context, id in try await controlPlane.endpointGroup(domainID: context.caller.domainID, id: id) },
            update: { context, id, options in try await controlPlane.updateEndpointGroup(domainID: context.caller.domainID, id: id, options) },
            delete: { context, id in try await controlPlane.deleteEndpointGroup(domainID: context.caller.domainID, id: id) }
        )
    }

    /// `/v1/endpoint-groups/{endpoint_group_id}/endpoints`
    static func endpoints(_ controlPlane: ControlPlane) -> ResourceRoutes<
        EndpointSpec, EndpointOptions.Create, EndpointOptions.Update, EndpointDetail
    > {
        @Sendable func group(_ context: AuthenticatedContext) throws -> String {
            try RequestParsing.id("endpoint_group_id", context: context)
        }
        return ResourceRoutes(
            key: "endpoint",
            listKey: "endpoints",
            idParameter: "endpoint_id",
            listFilters: ["id", "status"],
            detail: EndpointDetail.init,
            create: { context, options in
                try await controlPlane.createEndpoint(domainID: context.caller.domainID, groupID: try group(context), options)
            },
            list: { context, query, _ in
                try await controlPlane.endpoints(domainID: context.caller.domainID, groupID: try group(context), query: query)
            },
            show: { context, id in try await controlPlane.endpoint(domainID: context.caller.domainID, groupID: try group(context), id: id) },
            update: { context, id, options in
                try await controlPlane.updateEndpoint(domainID: context.caller.domainID, groupID: try group(context), id: id, options)
            },
            delete: { context, id in try await controlPlane.deleteEndpoint(domainID: context.caller.domainID, groupID: try group(context), id: id) }
        )
    }

    /// `/v1/health-checks`
    static func healthChecks(
        _ controlPlane: ControlPlane
    ) -> ResourceRoutes<HealthCheckSpec, HealthCheckOptions.Create, HealthCheckOptions.Update, HealthCheckDetail> {
        ResourceRoutes(
            key: "health_check",
            listKey: "health_checks",
            idParameter: "health_check_id",
            listFilters: ["id", "status"],
            parentKey: "endpoint_group_id",
            detail: HealthCheckDetail.init,
            create: { context, options in try await controlPlane.createHealthCheck(domainID: context.caller.domainID, options) },
            list: { context, query, _ in try await controlPlane.healthChecks(domainID: context.caller.domainID, query: query) },
            show: { context, id in try await controlPlane.healthCheck(domainID: context.caller.domainID, id: id) },
            update: { context, id, options in try await controlPlane.updateHealthCheck(domainID: context.caller.domainID, id: id, options) },
            delete: { context, id in try await controlPlane.deleteHealthCheck(domainID: context.caller.domainID, id: id) }
        )
    }

    /// `/v1/logtanks`; the list filters by `resource_ids` (listener ids) and accepts only `resource_type=LISTENER`.
    static func logtanks(_ controlPlane: ControlPlane) -> ResourceRoutes<LogtankSpec, LogtankOptions.Create, LogtankOptions.Update, LogtankDetail> {
        ResourceRoutes(
            key: "logtank",
            listKey: "logtanks",
            idParameter: "logtank_id",
            listFilters: ["id", "status"],
            detail: LogtankDetail.init,
            create: { context, options in try await controlPlane.createLogtank(domainID: context.caller.domainID, options) },
            list: { context, query, request in
                if let type = request.uri.queryParameters["resource_type"], type != "LISTENER" {
                    throw GAError.invalid("resource_type", "must be LISTENER")
                }
                let resourceIDs = request.uri.queryParameters[values: "resource_ids"].map(String.init)
                return try await controlPlane.logtanks(domainID: context.caller.domainID, query: query, resourceIDs: resourceIDs)
            },
            show: { context, id in try await controlPlane.logtank(domainID: context.caller.domainID, id: id) },
            update: { context, id, options in try await controlPlane.updateLogtank(domainID: context.caller.domainID, id: id, options) },
            delete: { context, id in try await controlPlane.deleteLogtank(domainID: context.caller.domainID, id: id) }
        )
    }
}
