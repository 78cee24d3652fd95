/// Character-level rules from the API reference.
public enum StringPattern: Sendable {
    /// Resource names: letters, digits, `-` and Chinese characters (`^[A-Za-z0-9\-\u4e00-\u9fa5]{1,64}$`).
    case name
    /// Descriptions: anything but `<` and `>`.
    case description
    /// Tag keys: letters, digits, space and `_ . : = + - @`; keys starting with `_sys_` are reserved.
    case tagKey
    /// Tag values: letters, digits, space and `_ . : / = + - @`.
    case tagValue

    /// The reason `string` breaks the rule, or nil when it does not.
    public func violation(in string: String) -> String? {
        switch self {
        case .name:
            let ok = string.unicodeScalars.allSatisfy { scalar in
                switch scalar.value {
                case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x4E00...0x9FA5: true
                default: false
                }
            }
            return ok ? nil : "may contain only letters, digits, '-' and Chinese characters"
        case .description:
            return string.contains(where: { $0 == "<" || $0 == ">" }) ? "must not contain '<' or '>'" : nil
        case .tagKey:
            if string.hasPrefix("_sys_") { return "keys starting with _sys_ are reserved" }
            return Self.tagCharacters(string, extra: "_.:=+-@ ") ? nil : "may contain only letters, digits, space and _ . : = + - @"
        case .tagValue:
            return Self.tagCharacters(string, extra: "_.:/=+-@ ") ? nil : "may contain only letters, digits, space and _ . : / = + - @"
        }
    }

    private static func tagCharacters(_ string: String, extra: String) -> Bool {
        string.allSatisfy { $0.isLetter || $0.isNumber || extra.contains($0) }
    }
}
