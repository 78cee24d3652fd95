import Testing
@testable import SlipstreamCore
@Test func t() {}
