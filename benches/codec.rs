//! Codec throughput: PUBLISH with a 16 B and a 1 KiB payload, QoS 0 and 1, MQTT 3.1.1 and 5.0.
//!
//! - `decode/...`: decoding a read buffer (`BytesMut`) that holds `STREAM_PACKETS` packets back
//!   to back, as a connection's read buffer does after a burst; each iteration decodes until
//!   `Ok(None)`. Filling the buffer is setup, not measured.
//! - `encode/...`: encoding the same `STREAM_PACKETS` packets into one reused `BytesMut`
//!   (cleared each iteration, so its capacity is kept, as a connection's write buffer is).
//!
//! Throughput is in bytes of wire data; packets per second = bytes per second / packet size
//! (the packet size is in the benchmark name).
//!
//! Run: `cargo bench --bench codec` (quick: `-- --warm-up-time 1 --measurement-time 2`).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use comqtt::mqtt::{Packet, Protocol, Publish, PublishProperties, QoS, decode};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Packets per decoded buffer / encoded batch.
const STREAM_PACKETS: usize = 1000;

const MAX_PACKET_SIZE: usize = 1 << 20;

const TOPIC: &str = "sensors/building-7/floor-3/room-12/temperature";

/// The PUBLISH packets of one batch: distinct packet identifiers for QoS 1, and in v5 the
/// message expiry interval a typical client sets (properties are decoded, not skipped).
fn batch(protocol: Protocol, qos: QoS, payload_len: usize) -> Vec<Packet> {
    let payload = Bytes::from(
        (0..payload_len)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    (0..STREAM_PACKETS)
        .map(|i| {
            let mut p = Publish::new(TOPIC, qos, payload.clone());
            if qos != QoS::AtMostOnce {
                p.packet_id = (i % 65_535) as u16 + 1;
            }
            if protocol.is_v5() {
                p.properties = PublishProperties {
                    message_expiry_interval: Some(3600),
                    ..Default::default()
                };
            }
            Packet::Publish(p)
        })
        .collect()
}

fn cases() -> Vec<(Protocol, &'static str, QoS, usize)> {
    let mut cases = Vec::new();
    for (protocol, name) in [(Protocol::V3_1_1, "v3.1.1"), (Protocol::V5, "v5")] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            for payload_len in [16, 1024] {
                cases.push((protocol, name, qos, payload_len));
            }
        }
    }
    cases
}

fn id(name: &str, qos: QoS, payload_len: usize, packet_len: usize) -> BenchmarkId {
    BenchmarkId::from_parameter(format!(
        "{name}/qos{}/payload-{payload_len}B/packet-{packet_len}B",
        qos as u8
    ))
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (protocol, name, qos, payload_len) in cases() {
        let packets = batch(protocol, qos, payload_len);
        let mut stream = BytesMut::new();
        for p in &packets {
            p.encode(protocol, &mut stream).unwrap();
        }
        let stream = stream.freeze();
        let packet_len = stream.len() / STREAM_PACKETS;
        // Sanity: the stream decodes to exactly the packets encoded.
        let mut check = BytesMut::from(&stream[..]);
        for p in &packets {
            assert_eq!(
                &decode(&mut check, protocol, MAX_PACKET_SIZE)
                    .unwrap()
                    .unwrap(),
                p
            );
        }
        assert!(check.is_empty());

        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_function(id(name, qos, payload_len, packet_len), |b| {
            b.iter_batched_ref(
                || BytesMut::from(&stream[..]),
                |buf| {
                    let mut n = 0;
                    while let Some(packet) = decode(buf, protocol, MAX_PACKET_SIZE).unwrap() {
                        black_box(&packet);
                        n += 1;
                    }
                    assert_eq!(n, STREAM_PACKETS);
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (protocol, name, qos, payload_len) in cases() {
        let packets = batch(protocol, qos, payload_len);
        let total: usize = packets.iter().map(|p| p.encoded_len(protocol)).sum();
        let mut buf = BytesMut::with_capacity(total);
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_function(id(name, qos, payload_len, total / STREAM_PACKETS), |b| {
            b.iter(|| {
                buf.clear();
                for p in &packets {
                    p.encode(protocol, &mut buf).unwrap();
                }
                black_box(&buf);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode, bench_encode);
criterion_main!(benches);
