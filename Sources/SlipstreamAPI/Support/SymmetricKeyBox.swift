import Crypto

/// A `SymmetricKey` that can cross concurrency domains (the key is immutable).
struct SymmetricKeyBox: @unchecked Sendable {
    let key: SymmetricKey
}
