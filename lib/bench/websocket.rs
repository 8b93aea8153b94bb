//! MQTT over WebSocket from the client side: the handshake offering subprotocol `mqtt`
//! (tokio-tungstenite's `client_async`, on a stream we connected ourselves). The byte-stream
//! adapter over binary frames, [`WsStream`], is the listener's.

use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub use crate::listener::websocket::WsStream;

/// Performs the WebSocket handshake for `uri` (`ws://host:port/path`) on `stream`, asking for
/// subprotocol `mqtt` `[MQTT-6.0.0-3]`.
pub async fn connect<S>(stream: S, uri: &str) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = uri.into_client_request().map_err(io::Error::other)?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    let (ws, _response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(io::Error::other)?;
    Ok(WsStream::new(ws))
}
