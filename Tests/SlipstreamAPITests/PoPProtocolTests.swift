import Testing

@testable import SlipstreamAPI

/// Parts of the PoP protocol's HTTP handling that need no running PoP (the protocol itself is exercised with real
/// processes in `conformance/test_remote_pops.py`).
@Suite struct PoPProtocolTests {
    /// RFC 9110 §12.5.3: a coding is acceptable unless its weight is 0; `*` stands for codings not named.
    @Test(arguments: [
        ("gzip", true),
        ("gzip, deflate, br", true),
        ("br;q=1.0, gzip;q=0.5", true),
        ("GZIP", true),
        ("x-gzip", true),
        ("gzip;q=0", false),
        ("gzip; q=0.000", false),
        ("deflate", false),
        ("notgzip", false),
        ("*", true),
        ("*;q=0", false),
        ("gzip;q=0, *", false),
        ("identity", false),
        ("", false),
    ])
    func gzipIsSentOnlyWhenAccepted(header: String, accepted: Bool) {
        #expect(PoPProtocolController.acceptsGzip(header) == accepted)
    }

    @Test func noHeaderMeansNoCompression() {
        #expect(PoPProtocolController.acceptsGzip(nil) == false)
    }

    @Test func protocolPathsAreJudgedAsTheRouterSeesThem() {
        #expect(PoPProtocolController.isProtocolPath("/pop/v1/report"))
        #expect(PoPProtocolController.isProtocolPath("//pop//v1/snapshot"))
        #expect(!PoPProtocolController.isProtocolPath("/v1/pops"))
        #expect(!PoPProtocolController.isProtocolPath("/pop/v10/report"))
        #expect(!PoPProtocolController.isProtocolPath("/popx/v1/report"))
    }
}
