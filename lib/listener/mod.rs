//! Listeners: accept TCP connections, optionally wrap them in TLS and/or WebSocket framing,
//! and hand each stream to [`crate::broker::connection::serve`].
//!
//! `tls` loads rustls server settings from PEM files; `websocket` adapts a WebSocket
//! connection (binary frames, subprotocol `mqtt`) to a byte stream.

pub mod admission;
pub mod quic;
pub mod tls;
pub mod websocket;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::broker::{Broker, connection};
use crate::shutdown::Shutdown;

/// Time a client has to finish the TLS and WebSocket handshakes.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a listener speaks on top of TCP.
#[derive(Clone)]
pub struct Transport {
    /// TLS, when certificates are configured.
    pub tls: Option<TlsAcceptor>,
    /// WebSocket framing (`ws://`, or `wss://` with TLS).
    pub websocket: bool,
    /// The listener's limits (`mqtt.options.limits`), when any is set.
    pub admission: Option<Arc<admission::Admission>>,
}

impl Transport {
    /// The name used in logs: tcp, tls, ws or wss.
    pub fn name(&self) -> &'static str {
        match (self.tls.is_some(), self.websocket) {
            (false, false) => "tcp",
            (true, false) => "tls",
            (false, true) => "ws",
            (true, true) => "wss",
        }
    }
}

/// Go-style `:1883` means every interface.
pub fn normalize(addr: &str) -> String {
    if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    }
}

/// Connections the kernel queues per listener by default: a burst of thousands of devices
/// reconnecting at once (after a restart, say) should not see SYN retries of a second.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Binds `addr` with a listen queue of `backlog` connections (separate from [`run`] so a
/// taken port is reported at startup). The kernel caps the queue at `net.core.somaxconn`;
/// a larger request is logged with the figure in force.
pub async fn bind(addr: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let normalized = normalize(addr);
    let mut last = None;
    for sa in tokio::net::lookup_host(&normalized).await? {
        let socket = if sa.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As std's bind does: a restarted broker rebinds while old connections linger.
        socket.set_reuseaddr(true)?;
        if let Err(e) = socket.bind(sa) {
            last = Some(e);
            continue;
        }
        if let Some(max) = somaxconn().filter(|max| backlog > *max) {
            tracing::info!(
                addr = %sa,
                backlog,
                in_force = max,
                "listen backlog capped by the kernel (net.core.somaxconn)"
            );
        }
        return socket.listen(backlog);
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("{normalized} resolves to no address"),
        )
    }))
}

/// The kernel's cap on listen queues, where it can be read.
fn somaxconn() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Accepts connections until shutdown, one task per connection.
pub async fn run(
    listener: TcpListener,
    transport: Transport,
    broker: Arc<Broker>,
    mut shutdown: Shutdown,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (ticket, refused) =
                    match transport.admission.as_ref().map(|a| a.admit(peer.ip())) {
                        None => (None, None),
                        Some(Ok(ticket)) => (Some(ticket), None),
                        Some(Err(refused)) => (None, Some(refused)),
                    };
                tokio::spawn(handle(
                    stream,
                    &transport,
                    broker.clone(),
                    peer.to_string(),
                    shutdown.clone(),
                    refused,
                    ticket,
                ));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The task serving one accepted socket. Each transport's future is boxed on its own, so a
/// plain TCP connection's task is sized for plain TCP, not for the largest (TLS + WebSocket)
/// handshake state: idle connections are most of a broker's memory.
fn handle(
    stream: TcpStream,
    transport: &Transport,
    broker: Arc<Broker>,
    peer: String,
    shutdown: Shutdown,
    refused: Option<admission::Refusal>,
    ticket: Option<admission::Ticket>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    // The ticket travels with the stream, so it lives exactly as long as the connection and
    // takes no room in the task (tokio's task cells are 128-byte aligned: a few bytes more
    // there would cost 128 per idle connection).
    let stream = admission::Admitted::new(stream, ticket);
    let limit = broker.capabilities.packet_size_limit();
    let name = transport.name();
    let failed = move |peer: &str, e: std::io::Error| tracing::debug!(%peer, transport = name, error = %e, "handshake failed");
    if let Some(r) = refused {
        // Refused by a limit: the handshakes, then the CONNECT, then a CONNACK saying why.
        let (tls, ws) = (transport.tls.clone(), transport.websocket);
        return Box::pin(async move {
            let refuse = |broker, s, peer| connection::refuse(broker, s, peer, r.code, r.why);
            match (tls, ws) {
                (None, false) => refuse(broker, Box::new(stream) as Box<dyn Stream>, peer).await,
                (None, true) => match timed(websocket::accept(stream, limit)).await {
                    Ok(ws) => refuse(broker, Box::new(ws), peer).await,
                    Err(e) => failed(&peer, e),
                },
                (Some(tls), false) => match timed(tls.accept(stream)).await {
                    Ok(s) => refuse(broker, Box::new(s), peer).await,
                    Err(e) => failed(&peer, e),
                },
                (Some(tls), true) => {
                    let ws = match timed(tls.accept(stream)).await {
                        Ok(s) => timed(websocket::accept(s, limit)).await,
                        Err(e) => Err(e),
                    };
                    match ws {
                        Ok(ws) => refuse(broker, Box::new(ws), peer).await,
                        Err(e) => failed(&peer, e),
                    }
                }
            }
        });
    }
    match (transport.tls.clone(), transport.websocket) {
        (None, false) => Box::pin(connection::serve(broker, stream, peer, name, shutdown)),
        (None, true) => Box::pin(async move {
            match timed(websocket::accept(stream, limit)).await {
                Ok(ws) => connection::serve(broker, ws, peer, name, shutdown).await,
                Err(e) => failed(&peer, e),
            }
        }),
        (Some(tls), false) => Box::pin(async move {
            match timed(tls.accept(stream)).await {
                Ok(stream) => connection::serve(broker, stream, peer, name, shutdown).await,
                Err(e) => failed(&peer, e),
            }
        }),
        (Some(tls), true) => Box::pin(async move {
            let ws = match timed(tls.accept(stream)).await {
                Ok(stream) => timed(websocket::accept(stream, limit)).await,
                Err(e) => Err(e),
            };
            match ws {
                Ok(ws) => connection::serve(broker, ws, peer, name, shutdown).await,
                Err(e) => failed(&peer, e),
            }
        }),
    }
}

/// Any stream a refused connection may come on.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

async fn timed<T>(f: impl std::future::Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, f)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake timed out"))?
}
