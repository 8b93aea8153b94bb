//! Feeds arbitrary bytes to the MQTT decoder as a stream, in each protocol version, and checks
//! every packet it accepts against an oracle: re-encoding it must succeed, take exactly
//! `encoded_len` bytes, and decode back to an equal packet.

#![no_main]

use bytes::BytesMut;
use comqtt::mqtt::{decode, Packet, Protocol};
use libfuzzer_sys::fuzz_target;

/// Large enough for any input libFuzzer generates, small enough to exercise `TooLarge`.
const MAX_PACKET_SIZE: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5] {
        let mut buf = BytesMut::from(data);
        loop {
            let before = buf.len();
            match decode(&mut buf, protocol, MAX_PACKET_SIZE) {
                Ok(Some(packet)) => {
                    assert!(buf.len() < before, "a decoded packet consumes bytes");
                    roundtrip(&packet, protocol);
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "an incomplete packet consumes nothing");
                    break;
                }
                Err(_) => break,
            }
        }
    }
});

fn roundtrip(packet: &Packet, protocol: Protocol) {
    let mut out = BytesMut::new();
    if let Err(e) = packet.encode(protocol, &mut out) {
        panic!("{protocol}: decoded {packet:?} but cannot re-encode it: {e}");
    }
    assert_eq!(out.len(), packet.encoded_len(protocol), "{protocol}: encoded_len of {packet:?}");
    let encoded = out.clone();
    match decode(&mut out, protocol, usize::MAX) {
        Ok(Some(again)) => {
            assert!(out.is_empty(), "{protocol}: re-encoding of {packet:?} has trailing bytes");
            assert_eq!(&again, packet, "{protocol}: re-encoding {encoded:02X?} decodes differently");
        }
        other => panic!("{protocol}: re-encoding {encoded:02X?} of {packet:?} does not decode: {other:?}"),
    }
}
