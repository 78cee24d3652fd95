import Foundation
import Synchronization

/// Generates time-ordered UUIDs (version 7): the first 48 bits are the Unix time in milliseconds, followed by a
/// counter that keeps ids from one process strictly increasing within a millisecond, then random bits.
///
/// Because ids sort in creation order, lists page by id alone (`WHERE id > marker ORDER BY id`), and a marker
/// stays valid even when the item it names has since been deleted.
public final class ResourceIDGenerator: Sendable {
    private let state = Mutex<(millis: UInt64, counter: UInt16)>((0, 0))

    public init() {}

    public func next(now: Date = Date()) -> String {
        let (millis, counter) = self.state.withLock { state -> (UInt64, UInt16) in
            let current = UInt64(max(0, now.timeIntervalSince1970 * 1000))
            if current > state.millis {
                state = (current, UInt16.random(in: 0..<0x400))
            } else if state.counter < 0xFFF {
                state.counter += 1
            } else {
                state = (state.millis + 1, 0)
            }
            return state
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        bytes[6] = 0x70 | UInt8(counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        var random = SystemRandomNumberGenerator()
        for index in 8..<16 { bytes[index] = random.next() }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        let hex = Array(Hex.encode(bytes).utf8)
        var formatted: [UInt8] = []
        formatted.reserveCapacity(36)
        for (index, digit) in hex.enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { formatted.append(UInt8(ascii: "-")) }
            formatted.append(digit)
        }
        return String(decoding: formatted, as: UTF8.self)
    }
}

/// UTC timestamps as the API prints them: `2024-01-01T00:00:00.000Z`.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    public static func now() -> String { self.string(Date()) }
}
