import Foundation
import Testing

@testable import SlipstreamCore

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

    @Test func namesAndDescriptions() {
        #expect(StringPattern.name.violation(in: "ga-1") == nil)
        #expect(StringPattern.name.violation(in: "加速器") == nil)
        #expect(StringPattern.name.violation(in: "ga_1") != nil)
        #expect(StringPattern.description.violation(in: "a > b") != nil)
        #expect(StringPattern.tagKey.violation(in: "_sys_x") != nil)
        #expect(StringPattern.tagValue.violation(in: "a/b") == nil)
        #expect(StringPattern.tagKey.violation(in: "a/b") != nil)
    }

    @Test func portRanges() {
        #expect(throws: Never.self) { try PortRange.check([.init(fromPort: 80, toPort: 80), .init(fromPort: 443, toPort: 443)], protocol: "TCP") }
        #expect(throws: GAError.self) { try PortRange.check([.init(fromPort: 80, toPort: 90), .init(fromPort: 85, toPort: 85)], protocol: "TCP") }
        #expect(throws: GAError.self) { try PortRange.check([.init(fromPort: 4789, toPort: 4789)], protocol: "UDP") }
        #expect(throws: Never.self) { try PortRange.check([.init(fromPort: 4789, toPort: 4789)], protocol: "TCP") }
    }
}

@Suite struct AddressTests {
    @Test func parsing() {
        #expect(IPAddress("127.0.0.1")?.description == "127.0.0.1")
        #expect(IPAddress("::1")?.description == "::1")
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPAddress("300.1.1.1") == nil)
        #expect(IPAddress("example.com") == nil)
    }

    @Test func poolsSkipNetworkAndBroadcast() throws {
        let block = try #require(CIDR("127.10.0.7/30"))
        #expect(block.description == "127.10.0.4/30")
        #expect(block.usableAddresses.map(\.description) == ["127.10.0.5", "127.10.0.6"])
        #expect(try #require(CIDR("10.0.0.1/32")).usableAddresses.map(\.description) == ["10.0.0.1"])
        #expect(Array(try #require(CIDR("fd00::/64")).usableAddresses.prefix(2)).map(\.description) == ["fd00::1", "fd00::2"])
        #expect(CIDR("127.0.0.0/33") == nil)
    }
}

@Suite struct IdentityTests {
    @Test func idsSortInCreationOrder() {
        let generator = ResourceIDGenerator()
        let ids = (0..<5000).map { _ in generator.next() }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 36 && UUID(uuidString: $0) != nil })
    }

    @Test func passwords() {
        let hash = PasswordHash.make("s3cret", iterations: 1000)
        #expect(PasswordHash.verify("s3cret", against: hash))
        #expect(!PasswordHash.verify("s3cret!", against: hash))
        #expect(!hash.contains("s3cret"))
    }

    @Test func pbkdf2MatchesRFC6070StyleVector() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1 iteration), first block.
        let derived = PasswordHash.pbkdf2(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 1)
        #expect(derived.map { String(format: "%02x", $0) }.joined() == "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
        let twice = PasswordHash.pbkdf2(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 2)
        #expect(twice.map { String(format: "%02x", $0) }.joined() == "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43")
    }

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
        let sealed = try key.seal("SK")
        #expect(try key.open(sealed) == "SK")
        #expect(throws: (any Error).self) { try other.open(sealed) }
    }
}
