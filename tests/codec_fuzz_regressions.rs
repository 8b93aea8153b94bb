//! Inputs found by the `decode` fuzz target (fuzz/fuzz_targets/decode.rs), kept as regression
//! tests. Each one is checked with the target's oracle: every packet decoded from the input
//! re-encodes, in `encoded_len` bytes, to bytes that decode to an equal packet.

use bytes::BytesMut;
use comqtt::mqtt::{ConnAck, Packet, Protocol, ReasonCode, decode};

const ALL: [Protocol; 3] = [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5];

/// The fuzz target's loop and oracle, for one input in one protocol version; returns the
/// packets decoded.
fn decode_and_roundtrip(input: &[u8], protocol: Protocol) -> Vec<Packet> {
    let mut buf = BytesMut::from(input);
    let mut packets = Vec::new();
    while let Ok(Some(packet)) = decode(&mut buf, protocol, 64 * 1024) {
        let mut out = BytesMut::new();
        packet
            .encode(protocol, &mut out)
            .unwrap_or_else(|e| panic!("{protocol}: cannot re-encode {packet:?}: {e}"));
        assert_eq!(
            out.len(),
            packet.encoded_len(protocol),
            "{protocol}: encoded_len of {packet:?}"
        );
        let again = decode(&mut out, protocol, usize::MAX)
            .unwrap()
            .expect("a whole packet");
        assert!(out.is_empty());
        assert_eq!(
            again, packet,
            "{protocol}: the re-encoding decodes differently"
        );
        packets.push(packet);
    }
    packets
}

/// crash-b7a98ae0ea5cbf92ecf1a2493e21a28a62fc85f3: a CONNACK with the session present bit, read
/// as MQTT 3.1. 3.1 has no such flag (the byte is reserved) and the encoder never writes it, so
/// decoding it as `session_present: true` did not survive a round trip. The bit is now ignored
/// in 3.1 and still honoured in 3.1.1 and 5.0.
#[test]
fn connack_session_present_bit_in_mqtt_3_1() {
    let input = [0x20, 0x02, 0x01, 0x00];
    assert_eq!(
        decode_and_roundtrip(&input, Protocol::V3_1),
        [Packet::ConnAck(ConnAck::new(ReasonCode::SUCCESS, false))]
    );
    assert_eq!(
        decode_and_roundtrip(&input, Protocol::V3_1_1),
        [Packet::ConnAck(ConnAck::new(ReasonCode::SUCCESS, true))]
    );
    let v5 = [0x20, 0x03, 0x01, 0x00, 0x00];
    assert_eq!(
        decode_and_roundtrip(&v5, Protocol::V5),
        [Packet::ConnAck(ConnAck::new(ReasonCode::SUCCESS, true))]
    );
    // A refused 3.1 connection with the bit set is no longer a "session present" protocol error.
    let refused = [0x20, 0x02, 0x01, 0x05];
    assert_eq!(
        decode_and_roundtrip(&refused, Protocol::V3_1),
        [Packet::ConnAck(ConnAck::new(ReasonCode(5), false))]
    );
}

/// Every seed of the fuzz corpus (one valid packet per type and version, plus streams of
/// several packets) survives the oracle in every version it decodes in.
#[test]
fn fuzz_seed_corpus_roundtrips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/decode");
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let mut files = 0;
    for entry in entries {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        for protocol in ALL {
            decode_and_roundtrip(&input, protocol);
        }
        files += 1;
    }
    assert!(files >= 45, "only {files} corpus files");
}
