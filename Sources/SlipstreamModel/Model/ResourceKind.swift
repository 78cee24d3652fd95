/// The kinds of resources the control plane manages.
public enum ResourceKind: String, Sendable, CaseIterable, Codable {
    case accelerator
    case listener
    case endpointGroup = "endpoint_group"
    case endpoint
    case healthCheck = "health_check"
    case ipGroup = "ip_group"
    case logtank
}

/// Provisioning status of a resource (`ConfigStatus`).
public enum ResourceStatus: String, Sendable, CaseIterable, Codable {
    case active = "ACTIVE"
    case pending = "PENDING"
    case error = "ERROR"
    case deleting = "DELETING"
}
