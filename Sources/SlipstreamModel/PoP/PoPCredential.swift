/// What a remote PoP holds to reach the control plane: its id, its region and a bearer token. `slipstream admin
/// create-pop` prints it as one JSON object (`{"pop_id": …, "region_id": …, "token": …}`), which `slipstream pop
/// --credential-file` reads.
///
/// The token is `slp-pop.<pop_id>.<secret>`: 32 random bytes as 64 hex digits. The control plane keeps only the
/// secret's SHA-256. The token opens the PoP protocol's routes (`/pop/v1/…`) and nothing else.
public struct PoPCredential: Codable, Sendable, Equatable {
    public var popID: String
    public var regionID: String
    public var token: String

    enum CodingKeys: String, CodingKey {
        case popID = "pop_id"
        case regionID = "region_id"
        case token
    }

    public init(popID: String, regionID: String, token: String) {
        self.popID = popID
        self.regionID = regionID
        self.token = token
    }

    static let prefix = "slp-pop"

    /// The token of `popID` with `secretHex`.
    public static func token(popID: String, secretHex: String) -> String {
        "\(Self.prefix).\(popID).\(secretHex)"
    }

    /// The PoP id and secret of a token, or nil when it is not shaped like one.
    public static func parse(token: String) -> (popID: String, secretHex: String)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.prefix, Self.isValidID(String(parts[1])), parts[2].utf8.count == 64,
            parts[2].utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        return (String(parts[1]), String(parts[2]))
    }

    /// Whether `id` is a valid PoP id: 1 to 36 letters, digits and `-` (36 is the longest `marker` of
    /// `GET /v1/pops`, the GA API reference).
    public static func isValidID(_ id: String) -> Bool {
        (1...36).contains(id.utf8.count)
            && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D }
    }
}
