/// A declarative description of a request body, checked before the body is decoded.
///
/// It mirrors the constraints `models.json` states for each request option (required fields, types, enums,
/// lengths, ranges, item counts, patterns), so every rejection names the offending field with GA.9001.
public indirect enum Schema: Sendable {
    case object([Field])
    case array(Schema, minItems: Int = 0, maxItems: Int? = nil)
    case string(StringRule)
    case integer(min: Int64, max: Int64)
    case boolean

    /// One member of an object schema.
    public struct Field: Sendable {
        public let name: String
        public let required: Bool
        public let schema: Schema

        public static func required(_ name: String, _ schema: Schema) -> Field {
            Field(name: name, required: true, schema: schema)
        }

        public static func optional(_ name: String, _ schema: Schema) -> Field {
            Field(name: name, required: false, schema: schema)
        }
    }

    /// Validates `value`; `path` is the dotted name used in error messages.
    public func validate(_ value: JSONValue, at path: String) throws(GAError) {
        switch (self, value) {
        case (.object(let fields), .object(let members)):
            for field in fields {
                let fieldPath = path.isEmpty ? field.name : "\(path).\(field.name)"
                guard let member = members[field.name], member != .null else {
                    if field.required { throw GAError.invalid(fieldPath, "is required") }
                    continue
                }
                try field.schema.validate(member, at: fieldPath)
            }
        case (.array(let item, let minItems, let maxItems), .array(let items)):
            if items.count < minItems {
                throw GAError.invalid(path, "must have at least \(minItems) item(s)")
            }
            if let maxItems, items.count > maxItems {
                throw GAError.invalid(path, "must have at most \(maxItems) item(s)")
            }
            for (index, element) in items.enumerated() {
                try item.validate(element, at: "\(path)[\(index)]")
            }
        case (.string(let rule), .string(let string)):
            try rule.validate(string, at: path)
        case (.integer(let min, let max), .integer(let number)):
            if number < min || number > max {
                throw GAError.invalid(path, "must be between \(min) and \(max)")
            }
        case (.boolean, .bool):
            return
        default:
            throw GAError.invalid(path, "must be \(self.expectedType), got \(value.typeName)")
        }
    }

    private var expectedType: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .integer: "an integer"
        case .boolean: "a boolean"
        }
    }
}

/// Constraints on a string value.
public struct StringRule: Sendable {
    public var minLength: Int
    public var maxLength: Int
    public var allowed: [String]?
    public var pattern: StringPattern?

    public init(minLength: Int = 0, maxLength: Int, allowed: [String]? = nil, pattern: StringPattern? = nil) {
        self.minLength = minLength
        self.maxLength = maxLength
        self.allowed = allowed
        self.pattern = pattern
    }

    func validate(_ string: String, at path: String) throws(GAError) {
        if let allowed {
            guard allowed.contains(string) else {
                throw GAError.invalid(path, "must be one of \(allowed.joined(separator: ", "))")
            }
            return
        }
        let length = string.count
        if length < self.minLength || length > self.maxLength {
            throw GAError.invalid(path, "length must be between \(self.minLength) and \(self.maxLength)")
        }
        if let pattern, let reason = pattern.violation(in: string) {
            throw GAError.invalid(path, reason)
        }
    }
}

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
