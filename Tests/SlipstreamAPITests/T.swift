import Testing
import HummingbirdTesting
@testable import SlipstreamAPI
@Test func t() {}
