//! Who may connect (`mqtt.options.limits`): per listener, the connections open at once and the
//! new connections per second; per source address, the connections open at once over every
//! listener. A connection over a limit is still read up to its CONNECT and answered with a
//! CONNACK saying why — v5 0x97 Quota exceeded (too many connections) or 0x9F Connection rate
//! exceeded; MQTT 3.x 0x03 Server unavailable — then closed; every refusal is counted by kind for
//! `/metrics`. Open connections are counted even with no limit set, so a limit a reload sets
//! (`Shared::set_limits`) applies to them at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::mqtt::ReasonCode;

/// The `mqtt.options.limits:` block; 0 turns a limit off (all are off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Connections open at once on one listener.
    pub max_connections: usize,
    /// Connections open at once from one IP address, over every listener.
    pub max_connections_per_address: usize,
    /// New connections per second on one listener (over a one-second window).
    pub connections_per_second: u32,
    /// PUBLISH packets per second from one client; over it the broker stops reading from that
    /// client until it is under again (see [`crate::broker::rate_limit`]).
    pub client_messages_per_second: u32,
    /// Bytes per second from one client, likewise.
    pub client_bytes_per_second: u64,
    /// Over either client rate, disconnect with v5 0x96 Message rate too high (3.x: close)
    /// instead of slowing the client down.
    pub client_rate_disconnect: bool,
}

impl Limits {
    /// The per-client rates, for the broker's capabilities.
    pub fn client_rates(&self) -> crate::broker::rate_limit::Rates {
        crate::broker::rate_limit::Rates {
            messages: self.client_messages_per_second,
            bytes: self.client_bytes_per_second,
            disconnect: self.client_rate_disconnect,
        }
    }
}

/// Refusals by kind, for `/metrics` (`comqtt_connections_refused_total{limit=...}`).
#[derive(Debug, Default)]
pub struct Refusals {
    /// Over `max-connections`.
    pub max_connections: AtomicU64,
    /// Over `max-connections-per-address`.
    pub per_address: AtomicU64,
    /// Over `connections-per-second`.
    pub rate: AtomicU64,
}

/// Why a connection is refused: the v5 reason code and a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The v5 CONNACK reason (3.x clients get 0x03).
    pub code: ReasonCode,
    /// For the log.
    pub why: &'static str,
}

/// What every listener shares: the limits in force, the per-address counts and the refusal
/// counters.
#[derive(Debug)]
pub struct Shared {
    /// The limits in force (a reload replaces them).
    limits: RwLock<Limits>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    /// Refusals so far.
    pub refusals: Refusals,
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new(Limits::default())
    }
}

impl Shared {
    /// Listeners' shared admission under `limits`.
    pub fn new(limits: Limits) -> Shared {
        Shared {
            limits: RwLock::new(limits),
            per_address: Mutex::default(),
            refusals: Refusals::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        *self.limits.read()
    }

    /// Replaces the limits (a reload). Connections open now are counted against the new
    /// limits (they were counted all along); none is closed.
    pub fn set_limits(&self, limits: Limits) {
        *self.limits.write() = limits;
    }
}

/// One listener's admission. Connections are counted (per listener and per address) even
/// while no limit is set, so a limit a reload sets applies to them at once.
#[derive(Debug)]
pub struct Admission {
    open: AtomicUsize,
    /// Start of the current one-second window and the connections admitted in it.
    window: Mutex<(Instant, u32)>,
    shared: Arc<Shared>,
}

/// Held by an admitted connection's task: its counts are given back on drop.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.open.fetch_sub(1, Ordering::AcqRel);
        let mut map = self.admission.shared.per_address.lock();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A stream carrying its connection's ticket: the place is given back when the stream is
/// dropped (the connection's end), at no cost in the connection's task.
#[derive(Debug)]
pub struct Admitted<S> {
    stream: S,
    _ticket: Option<Ticket>,
}

impl<S> Admitted<S> {
    /// `stream` holding `ticket`.
    pub fn new(stream: S, ticket: Option<Ticket>) -> Admitted<S> {
        Admitted {
            stream,
            _ticket: ticket,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Admitted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Admitted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Admission {
    /// A listener's admission, sharing `shared` with the other listeners.
    pub fn new(shared: &Arc<Shared>) -> Arc<Admission> {
        Arc::new(Admission {
            open: AtomicUsize::new(0),
            window: Mutex::new((Instant::now(), 0)),
            shared: shared.clone(),
        })
    }

    /// Admits a connection from `ip`, or says why not (counted).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let limits = self.shared.limits();
        if limits.connections_per_second > 0 {
            let mut w = self.window.lock();
            if w.0.elapsed().as_secs() >= 1 {
                *w = (Instant::now(), 0);
            }
            if w.1 >= limits.connections_per_second {
                self.shared.refusals.rate.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal {
                    code: ReasonCode::CONNECTION_RATE_EXCEEDED,
                    why: "over the listener's connections-per-second",
                });
            }
            w.1 += 1;
        }
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        let n = {
            let mut map = self.shared.per_address.lock();
            let n = map.entry(ip).or_default();
            *n += 1;
            *n
        };
        // Counted from here: a refusal below gives the places back when `ticket` drops.
        let ticket = Ticket {
            admission: self.clone(),
            ip,
        };
        if limits.max_connections > 0 && open > limits.max_connections {
            self.shared
                .refusals
                .max_connections
                .fetch_add(1, Ordering::Relaxed);
            return Err(Refusal {
                code: ReasonCode::QUOTA_EXCEEDED,
                why: "over the listener's max-connections",
            });
        }
        if limits.max_connections_per_address > 0 && n > limits.max_connections_per_address {
            self.shared
                .refusals
                .per_address
                .fetch_add(1, Ordering::Relaxed);
            return Err(Refusal {
                code: ReasonCode::QUOTA_EXCEEDED,
                why: "over max-connections-per-address",
            });
        }
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    fn shared(limits: Limits) -> Arc<Shared> {
        Arc::new(Shared::new(limits))
    }

    #[test]
    fn limits_refuse_with_their_codes_and_tickets_give_their_place_back() {
        let shared = shared(Limits {
            max_connections: 3,
            max_connections_per_address: 2,
            ..Limits::default()
        });
        let a = Admission::new(&shared);
        let t1 = a.admit(ip(1)).unwrap();
        let _t2 = a.admit(ip(1)).unwrap();
        assert_eq!(a.admit(ip(1)).unwrap_err().code, ReasonCode::QUOTA_EXCEEDED);
        let _t3 = a.admit(ip(2)).unwrap();
        let over = a.admit(ip(3)).unwrap_err();
        assert_eq!(over.why, "over the listener's max-connections");
        drop(t1);
        let _t4 = a.admit(ip(1)).unwrap();
        assert_eq!(shared.refusals.per_address.load(Ordering::Relaxed), 1);
        assert_eq!(shared.refusals.max_connections.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_connection_rate_is_counted_per_second() {
        let shared = shared(Limits {
            connections_per_second: 2,
            ..Limits::default()
        });
        let a = Admission::new(&shared);
        let _a = a.admit(ip(1)).unwrap();
        let _b = a.admit(ip(1)).unwrap();
        assert_eq!(
            a.admit(ip(1)).unwrap_err().code,
            ReasonCode::CONNECTION_RATE_EXCEEDED
        );
        assert_eq!(shared.refusals.rate.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_limit_set_later_counts_the_connections_already_open() {
        let shared = shared(Limits::default());
        let a = Admission::new(&shared);
        let held: Vec<Ticket> = (0..3).map(|_| a.admit(ip(1)).unwrap()).collect();
        shared.set_limits(Limits {
            max_connections_per_address: 3,
            ..Limits::default()
        });
        assert_eq!(a.admit(ip(1)).unwrap_err().code, ReasonCode::QUOTA_EXCEEDED);
        assert!(a.admit(ip(2)).is_ok());
        drop(held);
        assert!(a.admit(ip(1)).is_ok());
    }
}
