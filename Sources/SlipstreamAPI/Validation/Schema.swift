import SlipstreamModel

/// A declarative description of a request body, checked before the body is decoded.
///
/// Built from the served OpenAPI document (``RequestSchemas``), which states the constraints `models.json` gives each
/// request option (required fields, types, enums, lengths, ranges, item counts, patterns), so every rejection names
/// the offending field with GA.9001.
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
