/// A weighted Maglev lookup table (Eisenbud et al., NSDI 2016): a consistent hash from a flow key (the client
/// address) to a backend, where each backend owns a share of the table in proportion to its weight, and a change
/// of the backend set moves only about the share that changed.
public struct MaglevTable: Sendable {
    /// Table size: a prime well above the number of backends times their weights.
    public static let defaultSize = 16_381

    /// Backend index per slot.
    public let slots: [Int32]

    /// - Parameters:
    ///   - names: stable backend names (endpoint ids); the permutation of each backend depends on its name only.
    ///   - weights: positive weights, one per name.
    public init(names: [String], weights: [Int], size: Int = MaglevTable.defaultSize) {
        precondition(names.count == weights.count)
        let count = names.count
        guard count > 0, weights.contains(where: { $0 > 0 }) else {
            self.slots = []
            return
        }
        let offsets = names.map { Int(Self.hash($0, seed: 0x9E37_79B9) % UInt64(size)) }
        let skips = names.map { Int(Self.hash($0, seed: 0x85EB_CA6B) % UInt64(size - 1)) + 1 }
        var next = Array(repeating: 0, count: count)
        var table = Array(repeating: Int32(-1), count: size)
        var filled = 0
        let maxWeight = weights.max() ?? 1
        // Each round gives backend i `weights[i]` turns out of `maxWeight`, spread over `maxWeight` passes.
        outer: while true {
            for pass in 0..<maxWeight {
                for index in 0..<count where weights[index] > pass {
                    var slot = (offsets[index] + next[index] * skips[index]) % size
                    while table[slot] >= 0 {
                        next[index] += 1
                        slot = (offsets[index] + next[index] * skips[index]) % size
                    }
                    table[slot] = Int32(index)
                    next[index] += 1
                    filled += 1
                    if filled == size { break outer }
                }
            }
        }
        self.slots = table
    }

    /// The backend for `key`, or nil for an empty table.
    public func lookup(_ key: String) -> Int? {
        guard !self.slots.isEmpty else { return nil }
        return Int(self.slots[Int(Self.hash(key, seed: 0) % UInt64(self.slots.count))])
    }

    /// Up to `distinct` different backends for a key hash: the key's own slot first, then the next slots' backends
    /// in table order (the order Maglev falls back in), each once.
    public func lookup(hash: UInt64, distinct: Int) -> [Int] {
        guard !self.slots.isEmpty, distinct > 0 else { return [] }
        var found: [Int] = []
        found.reserveCapacity(distinct)
        var slot = Int(hash % UInt64(self.slots.count))
        for _ in 0..<self.slots.count {
            let backend = Int(self.slots[slot])
            if !found.contains(backend) {
                found.append(backend)
                if found.count == distinct { break }
            }
            slot = slot + 1 == self.slots.count ? 0 : slot + 1
        }
        return found
    }

    /// splitmix64: spreads nearby values (client addresses) over the whole range.
    public static func mix(_ value: UInt64) -> UInt64 {
        self.avalanche(value &+ 0x9E37_79B9_7F4A_7C15)
    }

    /// splitmix64's finaliser.
    static func avalanche(_ value: UInt64) -> UInt64 {
        var hash = value
        hash ^= hash >> 30
        hash = hash &* 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 27
        hash = hash &* 0x94D0_49BB_1331_11EB
        hash ^= hash >> 31
        return hash
    }

    /// FNV-1a over the UTF-8 bytes, mixed with a seed.
    static func hash(_ string: String, seed: UInt64) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for byte in string.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        // Final avalanche (splitmix64) so nearby keys spread over the table.
        return self.avalanche(hash)
    }
}
