//! One MQTT client connection on our codec (`crate::mqtt`): the CONNECT / CONNACK handshake,
//! SUBSCRIBE / SUBACK, and the two buffers the publisher and subscriber loops work on. Reads
//! go into one growing `BytesMut` and every whole packet in it is decoded zero-copy; writes
//! are encoded into one `BytesMut` and leave in one write per wake-up, however many packets
//! it holds.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};

use super::duration::GoDuration;
use super::transport::{Endpoint, Transport};
use crate::mqtt::{
    self, ConnAck, Connect, DecodeError, Disconnect, EncodeError, Packet, Protocol, QoS,
    ReasonCode, Subscribe, SubscriptionOptions,
};

/// Initial size of each buffer: small, so that idle connections (the conn scenario holds
/// tens of thousands) cost little; busy ones grow to [`READ_CHUNK`].
const INITIAL_BUFFER: usize = 4 * 1024;

/// Largest amount a single read asks for.
const READ_CHUNK: usize = 64 * 1024;

/// Largest packet accepted from the broker (the protocol's own maximum).
const MAX_PACKET_SIZE: usize = 268_435_460;

/// How a connection introduces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Protocol version spoken.
    pub protocol: Protocol,
    /// Keep alive in seconds (paho's default is 30); 0 turns pings off.
    pub keep_alive: u16,
    /// Session expiry for persistent sessions; 0: clean sessions.
    pub session_expiry: u32,
    /// `-username`, if any.
    pub username: Option<String>,
    /// `-password`, if any.
    pub password: Option<String>,
    /// `-timeout`: how long the handshake (TCP, TLS, WebSocket, CONNACK) may take.
    pub timeout: Duration,
}

/// Why a connection failed or ended.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP, TLS or WebSocket could not be established.
    #[error("cannot connect to {url}: {source}")]
    Dial {
        /// The broker URL.
        url: String,
        /// Why.
        source: io::Error,
    },
    /// The broker answered CONNECT with a refusal.
    #[error("connection refused by the broker: {0}")]
    Refused(ReasonCode),
    /// A step did not finish within `-timeout`.
    #[error("{what} timed out after {after}")]
    Timeout {
        /// The step.
        what: &'static str,
        /// The limit.
        after: GoDuration,
    },
    /// SUBACK refused the subscription.
    #[error("subscription to {filter} refused: {reason}")]
    SubscribeRefused {
        /// The filter.
        filter: String,
        /// The broker's code.
        reason: ReasonCode,
    },
    /// The broker closed the connection.
    #[error("connection closed by the broker")]
    Closed,
    /// The broker sent DISCONNECT (MQTT 5).
    #[error("the broker sent DISCONNECT: {0}")]
    Disconnected(ReasonCode),
    /// Reading or writing failed.
    #[error("connection lost: {0}")]
    Io(#[from] io::Error),
    /// The broker sent bytes our codec rejects.
    #[error("undecodable packet from the broker: {0}")]
    Decode(#[from] DecodeError),
    /// A packet could not be encoded (a payload too large, ...).
    #[error("cannot encode a packet: {0}")]
    Encode(#[from] EncodeError),
    /// A packet that makes no sense at this point.
    #[error("unexpected {0} from the broker")]
    Unexpected(&'static str),
}

/// A connected, accepted MQTT client connection.
pub struct Link {
    /// The reading half of the stream.
    pub(super) reader: ReadHalf<Transport>,
    /// The writing half of the stream.
    pub(super) writer: WriteHalf<Transport>,
    /// Bytes read and not yet decoded.
    pub(super) rbuf: BytesMut,
    /// Packets encoded and not yet written.
    pub(super) wbuf: BytesMut,
    /// The protocol version of the connection.
    pub(super) protocol: Protocol,
    /// How many QoS 1/2 publishes the broker takes unacknowledged (v5 Receive Maximum).
    pub(super) receive_maximum: u16,
    /// How often to send PINGREQ, if keep alive is on.
    pub(super) ping_every: Option<Duration>,
    /// Next packet identifier for SUBSCRIBE.
    next_id: u16,
}

impl Link {
    /// Connects to `endpoint` (from `source` if given) and completes CONNECT / CONNACK, all
    /// within `settings.timeout`.
    pub async fn open(
        endpoint: &Endpoint,
        source: Option<IpAddr>,
        settings: &ClientSettings,
        client_id: &str,
    ) -> Result<Link, ClientError> {
        let after = GoDuration::from_std(settings.timeout);
        // Boxed: the handshake's state (TLS, WebSocket) is large and only needed until
        // CONNACK, so it should not stay in every connection task's future.
        let handshake = Box::pin(Link::handshake(endpoint, source, settings, client_id));
        match tokio::time::timeout(settings.timeout, handshake).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                what: "connect",
                after,
            }),
        }
    }

    async fn handshake(
        endpoint: &Endpoint,
        source: Option<IpAddr>,
        settings: &ClientSettings,
        client_id: &str,
    ) -> Result<Link, ClientError> {
        let stream = endpoint
            .dial(source)
            .await
            .map_err(|source| ClientError::Dial {
                url: endpoint.url.to_string(),
                source,
            })?;
        let (reader, writer) = tokio::io::split(stream);
        let mut link = Link {
            reader,
            writer,
            rbuf: BytesMut::with_capacity(INITIAL_BUFFER),
            wbuf: BytesMut::with_capacity(INITIAL_BUFFER),
            protocol: settings.protocol,
            receive_maximum: u16::MAX,
            ping_every: None,
            next_id: 0,
        };
        let mut connect = Connect::new(settings.protocol, client_id);
        connect.keep_alive = settings.keep_alive;
        if settings.session_expiry > 0 {
            connect.clean_start = false;
            if settings.protocol.is_v5() {
                connect.properties.session_expiry_interval = Some(settings.session_expiry);
            }
        }
        connect.username = settings.username.as_deref().map(Into::into);
        connect.password = settings
            .password
            .as_ref()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()));
        if connect.password.is_some() && connect.username.is_none() && !settings.protocol.is_v5() {
            // 3.x forbids a password without a user name [MQTT-3.1.2-22].
            connect.username = Some("".into());
        }
        link.queue(&Packet::Connect(Box::new(connect)))?;
        link.flush().await?;
        let ack: ConnAck = match link.next().await? {
            Packet::ConnAck(ack) => ack,
            Packet::Disconnect(d) => return Err(ClientError::Disconnected(d.reason)),
            other => return Err(ClientError::Unexpected(other.name())),
        };
        if !ack.code.is_success() || (!settings.protocol.is_v5() && ack.code != ReasonCode::SUCCESS)
        {
            return Err(ClientError::Refused(ack.code));
        }
        if let Some(max) = ack.properties.receive_maximum {
            link.receive_maximum = max;
        }
        let keep_alive = ack
            .properties
            .server_keep_alive
            .unwrap_or(settings.keep_alive);
        if keep_alive > 0 {
            link.ping_every = Some(Duration::from_secs(u64::from(keep_alive)) / 2);
        }
        Ok(link)
    }

    /// Subscribes to one filter and waits for SUBACK within `timeout`.
    pub async fn subscribe(
        &mut self,
        filter: &str,
        qos: QoS,
        timeout: Duration,
    ) -> Result<(), ClientError> {
        let id = self.next_packet_id();
        self.queue(&Packet::Subscribe(Subscribe::new(
            id,
            filter,
            SubscriptionOptions::qos(qos),
        )))?;
        let wait = async {
            self.flush().await?;
            loop {
                match self.next().await? {
                    Packet::SubAck(ack) if ack.packet_id == id => {
                        return match ack.reasons.first() {
                            Some(code) if code.is_success() => Ok(()),
                            code => Err(ClientError::SubscribeRefused {
                                filter: filter.to_string(),
                                reason: code.copied().unwrap_or(ReasonCode::UNSPECIFIED_ERROR),
                            }),
                        };
                    }
                    Packet::Disconnect(d) => return Err(ClientError::Disconnected(d.reason)),
                    _ => {} // retained messages or pings may come first
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                what: "subscribe",
                after: GoDuration::from_std(timeout),
            }),
        }
    }

    /// A packet identifier for SUBSCRIBE (1, 2, ...).
    fn next_packet_id(&mut self) -> u16 {
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        self.next_id
    }

    /// Encodes `packet` at the end of the write buffer.
    pub fn queue(&mut self, packet: &Packet) -> Result<(), ClientError> {
        packet.encode(self.protocol, &mut self.wbuf)?;
        Ok(())
    }

    /// Writes the whole write buffer and flushes (TLS and WebSocket buffer internally).
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        while !self.wbuf.is_empty() {
            if self.writer.write_buf(&mut self.wbuf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
        self.writer.flush().await?;
        Ok(())
    }

    /// Makes room for the next read: at least a quarter of the buffer, which doubles up to
    /// [`READ_CHUNK`] while reads keep filling it. Once the packets decoded from it are
    /// dropped, `reserve` reuses the same allocation.
    pub(super) fn prepare_read(&mut self) {
        let capacity = self.rbuf.capacity().max(INITIAL_BUFFER);
        if capacity - self.rbuf.len() < capacity / 4 {
            self.rbuf.reserve((capacity * 2).min(READ_CHUNK));
        }
    }

    /// Decodes the next whole packet of the read buffer, if there is one.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, ClientError> {
        Ok(mqtt::decode(
            &mut self.rbuf,
            self.protocol,
            MAX_PACKET_SIZE,
        )?)
    }

    /// Reads until a whole packet is there and returns it.
    async fn next(&mut self) -> Result<Packet, ClientError> {
        loop {
            if let Some(packet) = self.next_packet()? {
                return Ok(packet);
            }
            self.prepare_read();
            if self.reader.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ClientError::Closed);
            }
        }
    }

    /// Sends DISCONNECT and closes, giving the broker at most a second.
    pub async fn close(mut self) {
        if self
            .queue(&Packet::Disconnect(Disconnect::new(
                ReasonCode::NORMAL_DISCONNECTION,
            )))
            .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let _ = self.flush().await;
                let _ = self.writer.shutdown().await;
            })
            .await;
        }
    }
}
