import Foundation
import SlipstreamModel
import Testing

@testable import SlipstreamControlPlane

/// Guards ``ResourceLifecycle``, the value-type rule behind every status a user sees: what one PoP report does to one
/// resource, for every status, the resource's revision before, at or after the applied one, and with or without an
/// apply error naming it; and when a PoP's health verdict for an endpoint may be recorded.
@Suite struct ResourceLifecycleTests {
    /// The applied revision every row of the table is reported at.
    static let applied: Int64 = 10

    /// Where the resource's revision lies against the report's applied revision.
    enum Written: String, Sendable, CaseIterable {
        case before, equal, after

        var revision: Int64 {
            switch self {
            case .before: ResourceLifecycleTests.applied - 1
            case .equal: ResourceLifecycleTests.applied
            case .after: ResourceLifecycleTests.applied + 1
            }
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var status: ResourceStatus
        var written: Written
        var failed: Bool
        var expected: ResourceLifecycle.Transition

        var testDescription: String {
            "\(self.status.rawValue) written \(self.written.rawValue) the applied revision\(self.failed ? ", named in errors" : "")"
        }
    }

    /// Every status × revision position × failed, with what must happen.
    static let table: [Row] = [
        // PENDING settles to what the PoP made of it once the PoP has its revision; a later write waits for a later report.
        Row(status: .pending, written: .before, failed: false, expected: .become(.active)),
        Row(status: .pending, written: .before, failed: true, expected: .become(.error)),
        Row(status: .pending, written: .equal, failed: false, expected: .become(.active)),
        Row(status: .pending, written: .equal, failed: true, expected: .become(.error)),
        Row(status: .pending, written: .after, failed: false, expected: .unchanged),
        Row(status: .pending, written: .after, failed: true, expected: .unchanged),
        // ACTIVE stays unless the PoP now fails to apply it.
        Row(status: .active, written: .before, failed: false, expected: .unchanged),
        Row(status: .active, written: .before, failed: true, expected: .become(.error)),
        Row(status: .active, written: .equal, failed: false, expected: .unchanged),
        Row(status: .active, written: .equal, failed: true, expected: .become(.error)),
        Row(status: .active, written: .after, failed: false, expected: .unchanged),
        Row(status: .active, written: .after, failed: true, expected: .unchanged),
        // ERROR recovers when a report no longer names it (the PoP's retry applied it).
        Row(status: .error, written: .before, failed: false, expected: .become(.active)),
        Row(status: .error, written: .before, failed: true, expected: .unchanged),
        Row(status: .error, written: .equal, failed: false, expected: .become(.active)),
        Row(status: .error, written: .equal, failed: true, expected: .unchanged),
        Row(status: .error, written: .after, failed: false, expected: .unchanged),
        Row(status: .error, written: .after, failed: true, expected: .unchanged),
        // DELETING is gone once the PoP serves a revision without it, and never comes back to life.
        Row(status: .deleting, written: .before, failed: false, expected: .remove),
        Row(status: .deleting, written: .before, failed: true, expected: .remove),
        Row(status: .deleting, written: .equal, failed: false, expected: .remove),
        Row(status: .deleting, written: .equal, failed: true, expected: .remove),
        Row(status: .deleting, written: .after, failed: false, expected: .unchanged),
        Row(status: .deleting, written: .after, failed: true, expected: .unchanged),
    ]

    @Test(arguments: ResourceLifecycleTests.table)
    func transition(_ row: Row) {
        let transition = ResourceLifecycle.transition(
            status: row.status,
            revision: row.written.revision,
            appliedRevision: Self.applied,
            failed: row.failed
        )
        #expect(transition == row.expected)
    }

    @Test func tableCoversEveryCombinationOnce() {
        let keys = Set(Self.table.map { "\($0.status.rawValue)/\($0.written.rawValue)/\($0.failed)" })
        #expect(keys.count == Self.table.count)
        #expect(keys.count == ResourceStatus.allCases.count * Written.allCases.count * 2)
    }

    /// A second report of the same outcome changes nothing: the reconciler may settle the same report twice.
    @Test func aSettledStatusStaysSettled() {
        for status in ResourceStatus.allCases where status != .deleting {
            for failed in [false, true] {
                let first = ResourceLifecycle.transition(status: status, revision: 7, appliedRevision: 7, failed: failed)
                let settled: ResourceStatus =
                    switch first {
                    case .become(let next): next
                    case .unchanged, .remove: status
                    }
                #expect(settled == (failed ? ResourceStatus.error : ResourceStatus.active))
                #expect(ResourceLifecycle.transition(status: settled, revision: 7, appliedRevision: 8, failed: failed) == .unchanged)
            }
        }
    }

    struct HealthRow: Sendable, CustomTestStringConvertible {
        var endpointRevision: Int64
        var healthCheckRevision: Int64?
        var accepted: Bool
        var why: String

        var testDescription: String { self.why }
    }

    /// Verdicts reported at revision ``applied``.
    static let healthTable: [HealthRow] = [
        HealthRow(endpointRevision: 9, healthCheckRevision: nil, accepted: true, why: "endpoint applied, no health check"),
        HealthRow(endpointRevision: 10, healthCheckRevision: nil, accepted: true, why: "endpoint applied at this very revision"),
        HealthRow(endpointRevision: 11, healthCheckRevision: nil, accepted: false, why: "endpoint written after the PoP's revision"),
        HealthRow(endpointRevision: 5, healthCheckRevision: 9, accepted: true, why: "endpoint and health check applied"),
        HealthRow(endpointRevision: 5, healthCheckRevision: 10, accepted: true, why: "health check applied at this very revision"),
        HealthRow(endpointRevision: 5, healthCheckRevision: 11, accepted: false, why: "health check changed after the PoP's revision"),
        HealthRow(endpointRevision: 11, healthCheckRevision: 9, accepted: false, why: "endpoint not applied, check applied"),
        HealthRow(endpointRevision: 11, healthCheckRevision: 11, accepted: false, why: "neither applied"),
    ]

    @Test(arguments: ResourceLifecycleTests.healthTable)
    func acceptsHealth(_ row: HealthRow) {
        let accepted = ResourceLifecycle.acceptsHealth(
            endpointRevision: row.endpointRevision,
            healthCheckRevision: row.healthCheckRevision,
            appliedRevision: Self.applied
        )
        #expect(accepted == row.accepted)
    }
}
