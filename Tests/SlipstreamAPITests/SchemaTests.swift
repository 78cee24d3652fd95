import Foundation
import SlipstreamControlPlane
import Testing

@testable import SlipstreamAPI
@testable import SlipstreamModel
@testable import SlipstreamTestSupport

@Suite struct SchemaTests {
    func parse(_ json: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    }

    func error(_ schema: Schema, _ json: String) throws -> GAError? {
        let value = try self.parse(json)
        do {
            try schema.validate(value, at: "")
            return nil
        } catch {
            return error
        }
    }

    @Test func typesAreKeptApart() throws {
        #expect(try self.parse("true") == .bool(true))
        #expect(try self.parse("1") == .integer(1))
        #expect(try self.parse("1.5") == .number(1.5))
        #expect(try self.parse(#""1""#) == .string("1"))
    }

    @Test func fieldsAreNamedInErrors() throws {
        let schema = RequestSchemas.createHealthCheck
        let valid =
            #"{"health_check": {"endpoint_group_id": "g", "protocol": "TCP", "port": 80, "interval": 5, "timeout": 3, "max_retries": 3, "enabled": true}}"#
        #expect(try self.error(schema, valid) == nil)
        #expect(
            try self.error(schema, valid.replacingOccurrences(of: #""port": 80"#, with: #""port": "80""#))?.message
                == "Invalid health_check.port: must be an integer, got string"
        )
        #expect(
            try self.error(schema, valid.replacingOccurrences(of: #""port": 80"#, with: #""port": 65536"#))?.message
                == "Invalid health_check.port: must be between 1 and 65535"
        )
        #expect(
            try self.error(schema, valid.replacingOccurrences(of: #""enabled": true"#, with: #""enabled": 1"#))?.message.hasPrefix(
                "Invalid health_check.enabled"
            ) == true
        )
        #expect(try self.error(schema, valid.replacingOccurrences(of: #""max_retries": 3"#, with: #""max_retries": 11"#))?.code == "GA.9001")
        #expect(
            try self.error(schema, valid.replacingOccurrences(of: #""protocol": "TCP""#, with: #""protocol": "HTTP""#))?.message.contains(
                "health_check.protocol"
            ) == true
        )
        #expect(
            try self.error(schema, valid.replacingOccurrences(of: #""port": 80"#, with: #""port": null"#))?.message
                == "Invalid health_check.port: is required"
        )
    }
}

@Suite struct TokenTests {
    @Test func tokensAndSealedSecrets() throws {
        let key = try MasterKey(bytes: MasterKey.generate())
        let other = try MasterKey(bytes: MasterKey.generate())
        let now = Int64(Date().timeIntervalSince1970)
        let token = try IAMToken(domainID: "d", userName: "u", issuedAt: now, expiresAt: now + 60).encode(key: key.tokenKey)
        #expect(try IAMToken.verify(token, key: key.tokenKey).domainID == "d")
        #expect(throws: GAError.self) { try IAMToken.verify(token, key: other.tokenKey) }
        // Every other spelling of the token is refused, including those that differ only in the spare bits of a
        // base64url part's last character.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let characters = Array(token)
        for index in [characters.count - 1, characters.lastIndex(of: ".")! - 1] {
            for replacement in alphabet where replacement != characters[index] {
                var changed = characters
                changed[index] = replacement
                #expect(throws: GAError.self) { try IAMToken.verify(String(changed), key: key.tokenKey) }
            }
        }
        let expired = try IAMToken(domainID: "d", userName: "u", issuedAt: now - 60, expiresAt: now - 1).encode(key: key.tokenKey)
        #expect(throws: GAError.self) { try IAMToken.verify(expired, key: key.tokenKey) }
    }
}
