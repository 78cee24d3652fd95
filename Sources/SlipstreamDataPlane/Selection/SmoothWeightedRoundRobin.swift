/// Smooth weighted round-robin (as in nginx's upstream module): over any window of `sum(weights)` picks, each
/// peer is chosen exactly `weight` times, and picks of a heavy peer are spread out instead of bunched.
public struct SmoothWeightedRoundRobin: Sendable {
    public let weights: [Int]
    private var current: [Int]

    public init(weights: [Int]) {
        self.weights = weights
        self.current = Array(repeating: 0, count: weights.count)
    }

    /// The next peer among `candidates` (indexes into `weights`); nil when none has a positive weight.
    public mutating func next(among candidates: [Int]) -> Int? {
        var total = 0
        var best: Int?
        for index in candidates where self.weights[index] > 0 {
            self.current[index] += self.weights[index]
            total += self.weights[index]
            if best == nil || self.current[index] > self.current[best!] {
                best = index
            }
        }
        guard let best else { return nil }
        self.current[best] -= total
        return best
    }

    /// The next peer among all of them; nil when none has a positive weight.
    public mutating func next() -> Int? {
        var total = 0
        var best = -1
        for index in self.weights.indices where self.weights[index] > 0 {
            self.current[index] += self.weights[index]
            total += self.weights[index]
            if best < 0 || self.current[index] > self.current[best] {
                best = index
            }
        }
        guard best >= 0 else { return nil }
        self.current[best] -= total
        return best
    }
}
