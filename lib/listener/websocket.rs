//! MQTT over WebSocket (spec 6): the handshake with subprotocol `mqtt`, and [`WsStream`],
//! which turns binary frames into the byte stream the connection reads and writes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Subprotocols accepted, in order of preference (`mqttv3.1` is what old 3.1 clients offer).
const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// Completes the WebSocket handshake on `stream`, selecting the `mqtt` subprotocol when the
/// client offers it `[MQTT-6.0.0-3]`, `[MQTT-6.0.0-4]`.
#[allow(clippy::result_large_err)] // the callback's error type is tungstenite's, not ours
pub async fn accept<S>(stream: S, max_message: usize) -> io::Result<WsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let select = |req: &Request, mut resp: Response| {
        let offered: Vec<String> = req
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
            .collect();
        if let Some(p) = SUBPROTOCOLS
            .iter()
            .find(|p| offered.iter().any(|o| o == *p))
        {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
        }
        Ok(resp)
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let ws = tokio_tungstenite::accept_hdr_async_with_config(stream, select, Some(config))
        .await
        .map_err(io::Error::other)?;
    Ok(WsStream::new(ws))
}

/// A WebSocket connection read and written as bytes: each write becomes one binary frame;
/// reads return frame payloads in order (MQTT packets may span frames `[MQTT-6.0.0-2]`).
/// Used on both sides: the broker's listener and comqtt-bench's client.
pub struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// What is left of the last frame read.
    pending: Bytes,
}

impl<S> WsStream<S> {
    /// Wraps a WebSocket connection whose handshake is done.
    pub fn new(inner: WebSocketStream<S>) -> WsStream<S> {
        WsStream {
            inner,
            pending: Bytes::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = buf.remaining().min(this.pending.len());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.pending = data,
                Some(Ok(Message::Text(_))) => {
                    // [MQTT-6.0.0-1]: a data frame that is not binary closes the connection.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text frame on an MQTT WebSocket",
                    )));
                }
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Ok(_)) => {} // ping, pong and raw frames: tungstenite answers pings itself
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.inner).poll_ready(cx)).map_err(io::Error::other)?;
        Pin::new(&mut this.inner)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_close(cx)
            .map_err(io::Error::other)
    }
}
