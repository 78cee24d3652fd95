/// Whether a datagram from a client without a session may open one, as a pure decision over the counts involved.
enum UDPSessionAdmission: Equatable {
    case open
    /// The listener's IP group turns the client away.
    case denied
    /// No endpoint group can take the flow.
    case noEndpoint
    /// The listener, or the whole process, holds as many sessions as it may.
    case listenerBudget
    case processBudget

    static func decide(
        admitted: Bool,
        routable: Bool,
        listenerSessions: Int,
        maxPerListener: Int,
        processSessions: Int,
        maxPerProcess: Int
    ) -> UDPSessionAdmission {
        if !admitted { return .denied }
        if !routable { return .noEndpoint }
        if listenerSessions >= maxPerListener { return .listenerBudget }
        if processSessions >= maxPerProcess { return .processBudget }
        return .open
    }
}
