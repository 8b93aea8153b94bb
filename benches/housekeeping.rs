//! The broker's once-a-second housekeeping with many sessions and retained messages, none of
//! them due: what it costs while holding the session registry's and the retained store's
//! locks (every CONNECT, disconnect and retained publish waits for them meanwhile).
//!
//! - `sessions/expire/N`: `Sessions::expire` with N offline sessions that expire in a day.
//! - `retained/purge/N`: `RetainedStore::purge_expired` with N retained messages without
//!   expiry.
//!
//! Run: `cargo bench --bench housekeeping` (quick: `-- --warm-up-time 1 --measurement-time 2`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use comqtt::broker::client_info::ClientInfo;
use comqtt::broker::message::Message;
use comqtt::broker::retained::RetainedStore;
use comqtt::broker::session::{Outbox, SessionState};
use comqtt::broker::sessions::Sessions;
use comqtt::mqtt::{MqttString, Protocol, Publish, QoS};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const SIZES: [usize; 2] = [10_000, 100_000];

fn sessions(c: &mut Criterion) {
    let mut group = c.benchmark_group("sessions/expire");
    for n in SIZES {
        let registry = Sessions::default();
        let now = Instant::now();
        for i in 0..n {
            let id = MqttString::from(format!("client-{i}").as_str());
            registry.restore(
                id.clone(),
                Arc::new(Outbox::new(id.clone(), 1000)),
                SessionState::default(),
                86_400,
                now,
                None,
                Arc::new(ClientInfo::new(id, String::new(), Protocol::V5)),
            );
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(registry.expire(Instant::now())))
        });
    }
    group.finish();
}

fn retained(c: &mut Criterion) {
    let mut group = c.benchmark_group("retained/purge");
    for n in SIZES {
        let store = RetainedStore::default();
        for i in 0..n {
            let mut p = Publish::new(
                format!("sensors/{i}/state").as_str(),
                QoS::AtMostOnce,
                &b"on"[..],
            );
            p.retain = true;
            store.set(&Arc::new(Message::from_publish(p, None, 0)));
        }
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(store.purge_expired(Instant::now())))
        });
    }
    group.finish();
}

criterion_group!(benches, sessions, retained);
criterion_main!(benches);
