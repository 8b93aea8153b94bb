//! Listeners: accept TCP connections, optionally wrap them in TLS and/or WebSocket framing,
//! and hand each stream to [`crate::broker::connection::serve`].
//!
//! `tls` loads rustls server settings from PEM files; `websocket` adapts a WebSocket
//! connection (binary frames, subprotocol `mqtt`) to a byte stream.

pub mod tls;
pub mod websocket;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::broker::{connection, Broker};
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
    if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_string() }
}

/// Binds `addr` (separate from [`run`] so a taken port is reported at startup).
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(normalize(addr)).await
}

/// Accepts connections until shutdown, one task per connection.
pub async fn run(listener: TcpListener, transport: Transport, broker: Arc<Broker>, mut shutdown: Shutdown) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let transport = transport.clone();
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let peer = peer.to_string();
                    if let Err(e) = handle(stream, &transport, broker, peer.clone(), shutdown).await {
                        tracing::debug!(%peer, transport = transport.name(), error = %e, "handshake failed");
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(
    stream: TcpStream,
    transport: &Transport,
    broker: Arc<Broker>,
    peer: String,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let limit = broker.capabilities.packet_size_limit();
    match (&transport.tls, transport.websocket) {
        (None, false) => connection::serve(broker, stream, peer, shutdown).await,
        (None, true) => {
            let ws = timed(websocket::accept(stream, limit)).await?;
            connection::serve(broker, ws, peer, shutdown).await
        }
        (Some(tls), false) => {
            let stream = timed(tls.accept(stream)).await?;
            connection::serve(broker, stream, peer, shutdown).await
        }
        (Some(tls), true) => {
            let stream = timed(tls.accept(stream)).await?;
            let ws = timed(websocket::accept(stream, limit)).await?;
            connection::serve(broker, ws, peer, shutdown).await
        }
    }
    Ok(())
}

async fn timed<T>(f: impl std::future::Future<Output = std::io::Result<T>>) -> std::io::Result<T> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, f)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake timed out"))?
}
