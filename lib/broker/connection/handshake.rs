//! The connection's first steps and last resort: reading CONNECT (and nothing else first),
//! the enhanced authentication exchange before CONNACK, refusing a connection with the right
//! CONNACK code, and lingering after a DISCONNECT so its reason code is read.

use super::*;

/// Answers a connection a listener limit refused (`mqtt.options.limits`): its CONNECT is read
/// so the CONNACK speaks its protocol — `code` for v5, 0x03 Server unavailable for 3.x.
pub async fn refuse<S>(broker: Arc<Broker>, stream: S, peer: String, code: ReasonCode, why: &str)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut stream = stream;
    let mut rbuf = BytesMut::new();
    let max_packet = broker.capabilities.packet_size_limit();
    let read = tokio::time::timeout(
        CONNECT_TIMEOUT,
        read_connect(&mut stream, &mut rbuf, max_packet),
    )
    .await;
    let protocol = match read {
        Ok(Ok(Some(connect))) => connect.protocol,
        _ => return,
    };
    let code = if protocol.is_v5() {
        code
    } else {
        ReasonCode::V3_SERVER_UNAVAILABLE
    };
    tracing::info!(%peer, reason = %code, why, "connection refused");
    refuse_connection(&mut stream, protocol, code).await;
}
/// After a DISCONNECT with a reason code (and our side of the connection shut down), reads
/// and discards what the client still sends, until it closes or [`LINGER`] passes: closing
/// at once would answer its next packet with a reset, which can destroy the DISCONNECT
/// unread in its receive buffer.
pub(super) async fn linger<R: AsyncRead + Unpin>(reader: &mut R) {
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut sink = vec![0u8; READ_CHUNK];
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, reader.read(&mut sink)).await {
        if n == 0 {
            return;
        }
    }
}

/// Answers CONNECT with a refusing CONNACK, shuts our side down and lingers (best effort:
/// the connection closes next).
pub(super) async fn refuse_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    protocol: Protocol,
    code: ReasonCode,
) {
    let mut out = BytesMut::new();
    if Packet::ConnAck(ConnAck::new(code, false))
        .encode(protocol, &mut out)
        .is_ok()
    {
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, async {
            stream.write_all(&out).await?;
            stream.shutdown().await
        })
        .await;
        linger(stream).await;
    }
}

/// Why the first packet did not open a connection.
pub(super) struct BadFirstPacket {
    /// The CONNACK to answer with, in which protocol, if one is due.
    pub(super) connack: Option<(Protocol, ReasonCode)>,
    pub(super) why: String,
}

/// Reads the first packet, which must be CONNECT `[MQTT-3.1.0-1]`. `Ok(None)`: the client
/// went away first.
pub(super) async fn read_connect<R: AsyncRead + Unpin>(
    reader: &mut R,
    rbuf: &mut BytesMut,
    max_packet: usize,
) -> Result<Option<Box<Connect>>, BadFirstPacket> {
    loop {
        if let Some(&first) = rbuf
            .first()
            .filter(|&&b| b != crate::mqtt::kind::CONNECT << 4)
        {
            // [MQTT-3.1.0-1], [MQTT-2.1.3-1]: the first byte is not that of a CONNECT, so
            // neither is the packet; its announced body is not waited for.
            return Err(BadFirstPacket {
                connack: None,
                why: format!("first packet starts with 0x{first:02X}, not CONNECT"),
            });
        }
        let level = connect_level(rbuf);
        match decode(rbuf, Protocol::V5, max_packet) {
            Ok(Some(Packet::Connect(c))) => return Ok(Some(c)),
            Ok(Some(p)) => {
                return Err(BadFirstPacket {
                    connack: None,
                    why: format!("first packet is {}, not CONNECT", p.name()),
                });
            }
            Ok(None) => {}
            Err(DecodeError::UnsupportedProtocol { name, level }) => {
                // [MQTT-3.1.2-2]: answer 0x01 (3.1.1 format, which every client reads) and close.
                return Err(BadFirstPacket {
                    connack: Some((
                        Protocol::V3_1_1,
                        ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION,
                    )),
                    why: format!("unsupported protocol {name:?} level {level}"),
                });
            }
            Err(e) => {
                // A v5 client learns why in CONNACK; 3.x clients are simply closed.
                let connack = (level == Some(5)).then_some((Protocol::V5, e.reason_code()));
                return Err(BadFirstPacket {
                    connack,
                    why: e.to_string(),
                });
            }
        }
        reserve_for_frame(rbuf, max_packet);
        match reader.read_buf(reserve(rbuf)).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// Runs the enhanced authentication exchange of CONNECT (spec 4.12): the method's steps, with
/// AUTH 0x18 packets in both directions until it decides. Returns the method and the data for
/// CONNACK, or the CONNACK reason code of the refusal.
pub(super) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    broker: &Broker,
    connect: &Connect,
    stream: &mut S,
    rbuf: &mut BytesMut,
    max_packet: usize,
) -> Result<(MqttString, Option<bytes::Bytes>), ReasonCode> {
    let name = connect
        .properties
        .authentication_method
        .clone()
        .unwrap_or_default();
    let method = broker
        .auth_method(&name)
        .ok_or(ReasonCode::BAD_AUTHENTICATION_METHOD)?;
    let mut exchange = method.begin(&connect.client_id);
    let mut data = connect.properties.authentication_data.clone();
    loop {
        match exchange.step(data.as_deref()) {
            AuthStep::Success(server_data) => return Ok((name, server_data)),
            AuthStep::Failure => return Err(broker.capabilities.not_authorized()),
            AuthStep::Continue(server_data) => {
                let mut auth = Auth {
                    reason: ReasonCode::CONTINUE_AUTHENTICATION,
                    ..Auth::default()
                };
                auth.properties.authentication_method = Some(name.clone());
                auth.properties.authentication_data = Some(server_data);
                let mut out = BytesMut::new();
                Packet::Auth(auth)
                    .encode(Protocol::V5, &mut out)
                    .map_err(|_| ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR)?;
                stream
                    .write_all(&out)
                    .await
                    .map_err(|_| ReasonCode::UNSPECIFIED_ERROR)?;
                let next =
                    tokio::time::timeout(CONNECT_TIMEOUT, read_packet(stream, rbuf, max_packet))
                        .await
                        .map_err(|_| broker.capabilities.not_authorized())?;
                match next {
                    Ok(Some(Packet::Auth(a)))
                        if a.reason == ReasonCode::CONTINUE_AUTHENTICATION
                            && a.properties.authentication_method.as_ref() == Some(&name) =>
                    {
                        data = a.properties.authentication_data;
                    }
                    Ok(Some(_)) => return Err(ReasonCode::PROTOCOL_ERROR),
                    Ok(None) => return Err(ReasonCode::UNSPECIFIED_ERROR),
                    Err(e) => return Err(e.reason_code()),
                }
            }
        }
    }
}

/// Reads one v5 packet; `Ok(None)` when the client went away.
pub(super) async fn read_packet<R: AsyncRead + Unpin>(
    reader: &mut R,
    rbuf: &mut BytesMut,
    max_packet: usize,
) -> Result<Option<Packet>, DecodeError> {
    loop {
        if let Some(p) = decode(rbuf, Protocol::V5, max_packet)? {
            return Ok(Some(p));
        }
        match reader.read_buf(reserve(rbuf)).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// The protocol level of a CONNECT at the start of `buf`, read without decoding it; `None`
/// for any other packet type, so no other packet is ever answered with CONNACK.
pub(super) fn connect_level(buf: &[u8]) -> Option<u8> {
    if *buf.first()? >> 4 != crate::mqtt::kind::CONNECT {
        return None;
    }
    let frame = peek_frame(buf, usize::MAX).ok()??;
    let body = buf.get(frame.header_len..)?;
    let name_len = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
    body.get(2 + name_len).copied()
}
