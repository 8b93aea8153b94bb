//! The plain TCP listener (default `:1883`).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::broker::{connection, Broker};
use crate::shutdown::Shutdown;

/// Binds `addr`. Separate from [`run`] so the caller learns about a taken port at startup.
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(normalize(addr)).await
}

/// Go-style `:1883` means every interface.
pub fn normalize(addr: &str) -> String {
    if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_string() }
}

/// Accepts connections until shutdown, one task per connection.
pub async fn run(listener: TcpListener, broker: Arc<Broker>, mut shutdown: Shutdown) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection::serve(broker.clone(), stream, peer_name(peer), shutdown.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

fn peer_name(peer: SocketAddr) -> String {
    peer.to_string()
}
