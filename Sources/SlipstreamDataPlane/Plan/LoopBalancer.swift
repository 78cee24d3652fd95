import NIOConcurrencyHelpers
import NIOCore

/// The balancing state of one listener on one flow loop: the traffic-dial split, the rotation over remote
/// groups and a smooth weighted round-robin per group. Each event loop keeps its own, so picking an endpoint takes
/// no lock; every loop's sequence follows the weights, and so does their sum.
///
/// Touched only from its own flow loop (``ListenerRuntime`` keeps one per loop).
public final class LoopBalancer: @unchecked Sendable {
    private var dialWeight = -1
    private var dial = SmoothWeightedRoundRobin(weights: [])
    private var remoteCursor = 0
    private final class GroupState {
        let key: Int
        var roundRobin: SmoothWeightedRoundRobin

        init(key: Int, weights: [Int]) {
            self.key = key
            self.roundRobin = SmoothWeightedRoundRobin(weights: weights)
        }
    }

    private var groups: [String: GroupState] = [:]
    /// The group of the last pick and its state: most listeners have one group, so most flows skip the lookup by id.
    /// The group is held (not just its identity), so a new plan's group cannot be mistaken for it.
    private var lastGroup: PlannedGroup?
    private var lastState: GroupState?

    public init() {}

    /// Whether this flow goes to the local group, which takes `dial` percent of the flows.
    func takeLocal(dial: Int) -> Bool {
        if dial != self.dialWeight {
            self.dialWeight = dial
            self.dial = SmoothWeightedRoundRobin(weights: [dial, 100 - dial])
        }
        return self.dial.next(among: [0, 1]) == 0
    }

    /// `remotes` starting at the next one in turn.
    func rotated(_ remotes: [Int]) -> [Int] {
        guard remotes.count > 1 else { return remotes }
        let first = self.remoteCursor % remotes.count
        self.remoteCursor &+= 1
        return Array(remotes[first...] + remotes[..<first])
    }

    /// The position in `group.members` of the next pick by smooth weighted round-robin.
    func nextPick(group: PlannedGroup) -> Int? {
        if let state = self.lastState, self.lastGroup === group {
            return state.roundRobin.next()
        }
        let state: GroupState
        if let kept = self.groups[group.id], kept.key == group.balanceKey {
            state = kept
        } else {
            state = GroupState(key: group.balanceKey, weights: group.members.map { group.endpoints[$0].weight })
            self.groups[group.id] = state
        }
        self.lastGroup = group
        self.lastState = state
        return state.roundRobin.next()
    }
}
