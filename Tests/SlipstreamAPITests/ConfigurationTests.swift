import SlipstreamAPI
import SlipstreamModel
import Testing

/// `SLIPSTREAM_*` variables: a data-plane setting reaches the PoP's configuration, and a value outside its range
/// is refused with the variable's name.
@Suite struct ConfigurationTests {
    @Test func theUDPReceiveBufferReachesThePoPAndIsBounded() throws {
        let unset = try SlipstreamConfiguration(environment: [:])
        #expect(unset.popConfiguration(popID: "p", regionID: "r").udpReceiveBufferBytes == nil)
        let set = try SlipstreamConfiguration(environment: ["SLIPSTREAM_UDP_RECEIVE_BUFFER_BYTES": "1048576"])
        #expect(set.popConfiguration(popID: "p", regionID: "r").udpReceiveBufferBytes == 1_048_576)
        for bad in ["4095", "268435457", "1MiB", "-1"] {
            let error = #expect(throws: ConfigurationError.self) {
                try SlipstreamConfiguration(environment: ["SLIPSTREAM_UDP_RECEIVE_BUFFER_BYTES": bad])
            }
            #expect(error?.description.contains("SLIPSTREAM_UDP_RECEIVE_BUFFER_BYTES") == true, "\(bad)")
        }
    }
}
