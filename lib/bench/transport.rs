//! The byte stream under a client connection: TCP (bound to a source address when asked),
//! TLS, WebSocket or WebSocket over TLS, behind one [`Transport`] type; and the [`Endpoint`]
//! each broker URL is resolved to once per run, so thousands of connections do not each look
//! up the host.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::url::{BrokerUrl, Scheme};
use super::websocket::{self, WsStream};

/// A broker URL resolved to a socket address, with its TLS connector.
#[derive(Clone)]
pub struct Endpoint {
    /// The URL it came from.
    pub url: BrokerUrl,
    /// Where to connect.
    pub addr: SocketAddr,
    /// TLS connector and server name, for `ssl://`, `tls://` and `wss://`.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// The QUIC client endpoint (one UDP socket for every connection of the run), for
    /// `quic://`.
    quic: Option<quinn::Endpoint>,
}

/// Why a broker URL cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Name resolution failed.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// Why.
        reason: io::Error,
    },
    /// The host is not a valid TLS server name.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    /// The QUIC client could not be set up.
    #[error("QUIC client: {0}")]
    Quic(String),
}

impl Endpoint {
    /// Resolves `url` (the first address returned is used) and prepares TLS if its scheme needs it.
    pub async fn resolve(
        url: &BrokerUrl,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Endpoint, EndpointError> {
        let quic_tls = tls_config_for_quic(url, tls);
        let host = url.host_port();
        let addr = tokio::net::lookup_host(host.as_str())
            .await
            .and_then(|mut addrs| {
                addrs
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
            })
            .map_err(|reason| EndpointError::Resolve {
                host: host.clone(),
                reason,
            })?;
        // QUIC carries its own TLS (`quic` below).
        let tls = match (url.scheme.is_tls() && url.scheme != Scheme::Quic, tls) {
            (true, Some(config)) => {
                let name = ServerName::try_from(url.host.clone())
                    .map_err(|_| EndpointError::ServerName(url.host.clone()))?;
                Some((TlsConnector::from(config.clone()), name))
            }
            _ => None,
        };
        let quic = match (url.scheme, quic_tls) {
            (Scheme::Quic, Some(config)) => Some(quic_client(addr, config)?),
            (Scheme::Quic, None) => {
                return Err(EndpointError::Quic("TLS is not configured".into()));
            }
            _ => None,
        };
        Ok(Endpoint {
            url: url.clone(),
            addr,
            tls,
            quic,
        })
    }

    /// Opens the byte stream: TCP connect (bound to `source` if given), then TLS and the
    /// WebSocket handshake as the scheme asks.
    pub async fn dial(&self, source: Option<IpAddr>) -> io::Result<Transport> {
        if let Some(quic) = &self.quic {
            let connection = quic
                .connect(self.addr, &self.url.host)
                .map_err(io::Error::other)?
                .await
                .map_err(io::Error::other)?;
            let (send, recv) = connection.open_bi().await.map_err(io::Error::other)?;
            return Ok(Transport::Quic(Box::new(QuicStream {
                stream: tokio::io::join(recv, send),
                connection,
                closing: None,
            })));
        }
        let socket = if self.addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let tcp = socket.connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let tls = || {
            self.tls
                .clone()
                .ok_or_else(|| io::Error::other("TLS is not configured"))
        };
        Ok(match self.url.scheme {
            Scheme::Tcp => Transport::Tcp(tcp),
            Scheme::Tls => {
                let (connector, name) = tls()?;
                Transport::Tls(Box::new(connector.connect(name, tcp).await?))
            }
            Scheme::Ws => Transport::Ws(Box::new(
                websocket::connect(tcp, &self.url.websocket_uri()).await?,
            )),
            Scheme::Quic => return Err(io::Error::other("QUIC is not set up")),
            Scheme::Wss => {
                let (connector, name) = tls()?;
                let stream = connector.connect(name, tcp).await?;
                Transport::Wss(Box::new(
                    websocket::connect(stream, &self.url.websocket_uri()).await?,
                ))
            }
        })
    }
}

/// A connected byte stream of any supported kind.
pub enum Transport {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
    /// WebSocket over TCP.
    Ws(Box<WsStream<TcpStream>>),
    /// WebSocket over TLS.
    Wss(Box<WsStream<TlsStream<TcpStream>>>),
    /// MQTT over QUIC.
    Quic(Box<QuicStream>),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self.get_mut() {
            Transport::Tcp($s) => $call,
            Transport::Tls($s) => $call,
            Transport::Ws($s) => $call,
            Transport::Wss($s) => $call,
            Transport::Quic($s) => $call,
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// The TLS configuration a `quic://` URL uses (ALPN `mqtt` added).
fn tls_config_for_quic(url: &BrokerUrl, tls: Option<&Arc<ClientConfig>>) -> Option<ClientConfig> {
    if url.scheme != Scheme::Quic {
        return None;
    }
    let mut config = (**tls?).clone();
    config.alpn_protocols = vec![b"mqtt".to_vec()];
    Some(config)
}

/// A QUIC client endpoint on an ephemeral UDP port of the address family of `server`.
fn quic_client(server: SocketAddr, tls: ClientConfig) -> Result<quinn::Endpoint, EndpointError> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| EndpointError::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    // MQTT's keep alive decides, as over TCP.
    transport.max_idle_timeout(None);
    config.transport_config(Arc::new(transport));
    let bind: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let mut endpoint =
        quinn::Endpoint::client(bind).map_err(|e| EndpointError::Quic(e.to_string()))?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

/// One MQTT connection over QUIC: its bidirectional stream, with the connection it lives on.
pub struct QuicStream {
    stream: tokio::io::Join<quinn::RecvStream, quinn::SendStream>,
    /// Kept open as long as the stream: dropping it would discard what is not yet sent.
    connection: quinn::Connection,
    /// After the stream is finished: until the broker closes the connection (it has read
    /// everything), as a TCP close waits for the kernel to send what it holds.
    closing: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send + Sync>>>,
}

impl AsyncRead for QuicStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuicStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closing.is_none() {
            std::task::ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
            let connection = this.connection.clone();
            this.closing = Some(Box::pin(async move {
                connection.closed().await;
            }));
        }
        match this.closing.as_mut() {
            Some(closing) => closing.as_mut().poll(cx).map(Ok),
            None => Poll::Ready(Ok(())),
        }
    }
}
