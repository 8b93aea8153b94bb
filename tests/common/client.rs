//! A minimal MQTT client for tests, on comqtt's own codec: it sends exactly the packets a
//! test builds and returns exactly the packets the broker sends.

use std::time::Duration;

use bytes::BytesMut;
use comqtt::mqtt::{
    ConnAck, Connect, Packet, Protocol, PubReply, Publish, QoS, ReasonCode, SubAck, Subscribe,
    SubscribeFilter, SubscriptionOptions, decode,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The byte stream a test client talks over (TCP, or a QUIC stream).
pub trait ClientStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ClientStream for T {}

/// Time to wait for an expected packet.
pub const WAIT: Duration = Duration::from_secs(5);

/// A test client connection.
pub struct TestClient {
    stream: Box<dyn ClientStream>,
    rbuf: BytesMut,
    pub protocol: Protocol,
}

impl TestClient {
    /// Opens a TCP connection without sending anything.
    pub async fn raw(addr: &str, protocol: Protocol) -> TestClient {
        // A few attempts, as any client would: under the whole suite's load a connect can fail
        // transiently; a broker that is really gone fails all of them (and tests check that the
        // broker still runs).
        let mut last = None;
        let mut stream = None;
        for _ in 0..5 {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        let stream =
            stream.unwrap_or_else(|| panic!("cannot connect to the broker at {addr}: {last:?}"));
        stream.set_nodelay(true).ok();
        TestClient::over(stream, protocol)
    }

    /// A client over an open byte stream (nothing sent yet).
    pub fn over(stream: impl ClientStream + 'static, protocol: Protocol) -> TestClient {
        TestClient {
            stream: Box::new(stream),
            rbuf: BytesMut::new(),
            protocol,
        }
    }

    /// Sends CONNECT over an open byte stream and returns the client and the CONNACK.
    pub async fn connect_over(
        stream: impl ClientStream + 'static,
        connect: Connect,
    ) -> (TestClient, ConnAck) {
        let mut c = TestClient::over(stream, connect.protocol);
        c.send(Packet::Connect(Box::new(connect))).await;
        match c.recv().await {
            Some(Packet::ConnAck(ack)) => (c, ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with `connect` and returns the CONNACK.
    ///
    /// A connection closed before any answer is tried again (twice at most, said on stderr):
    /// seen about once in a few whole-suite runs, on a broker's first connection, with nothing
    /// in the broker's log, and never reproduced alone (150 fresh brokers under CPU load).
    pub async fn connect_with(addr: &str, connect: Connect) -> (TestClient, ConnAck) {
        for attempt in 0..3 {
            let mut c = TestClient::raw(addr, connect.protocol).await;
            c.send(Packet::Connect(Box::new(connect.clone()))).await;
            match c.recv().await {
                Some(Packet::ConnAck(ack)) => return (c, ack),
                None if attempt < 2 => eprintln!(
                    "{}: connection closed before CONNACK (attempt {attempt}); trying again",
                    connect.client_id
                ),
                other => panic!("expected CONNACK, got {other:?}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Connects with a clean session and asserts success.
    pub async fn connect(addr: &str, protocol: Protocol, client_id: &str) -> TestClient {
        let (c, ack) = TestClient::connect_with(addr, Connect::new(protocol, client_id)).await;
        assert_eq!(ack.code, ReasonCode::SUCCESS, "CONNACK {ack:?}");
        c
    }

    /// Sends a packet.
    pub async fn send(&mut self, packet: Packet) {
        let mut buf = BytesMut::new();
        packet.encode(self.protocol, &mut buf).expect("encode");
        self.send_raw(&buf).await;
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write to broker");
    }

    /// The next packet, or `None` if the broker closed the connection. Panics after [`WAIT`].
    pub async fn recv(&mut self) -> Option<Packet> {
        self.recv_within(WAIT)
            .await
            .expect("timed out waiting for a packet")
    }

    /// The next packet within `wait`: `Err(())` on timeout, `Ok(None)` when closed.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Packet>, ()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match decode(&mut self.rbuf, self.protocol, usize::MAX) {
                Ok(Some(p)) => return Ok(Some(p)),
                Ok(None) => {}
                Err(e) => panic!("broker sent a malformed packet: {e}"),
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await {
                Err(_) => return Err(()),
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Asserts that nothing arrives within `wait`.
    pub async fn expect_nothing(&mut self, wait: Duration) {
        if let Ok(p) = self.recv_within(wait).await {
            panic!("expected nothing, got {p:?}");
        }
    }

    /// Asserts the broker closes the connection, after an optional v5 DISCONNECT whose reason
    /// code is returned.
    pub async fn expect_disconnect(&mut self) -> Option<ReasonCode> {
        match self.recv().await {
            None => None,
            Some(Packet::Disconnect(d)) => {
                assert_eq!(
                    self.recv().await,
                    None,
                    "connection stays open after DISCONNECT"
                );
                Some(d.reason)
            }
            Some(other) => panic!("expected the connection to close, got {other:?}"),
        }
    }

    /// Subscribes to one filter and returns the SUBACK.
    pub async fn subscribe(
        &mut self,
        packet_id: u16,
        filter: &str,
        options: SubscriptionOptions,
    ) -> SubAck {
        self.send(Packet::Subscribe(Subscribe {
            packet_id,
            filters: vec![SubscribeFilter {
                filter: filter.into(),
                options,
            }],
            properties: Default::default(),
        }))
        .await;
        match self.recv().await {
            Some(Packet::SubAck(ack)) => ack,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Subscribes at a QoS and asserts it was granted.
    pub async fn subscribe_qos(&mut self, packet_id: u16, filter: &str, qos: QoS) {
        let ack = self
            .subscribe(packet_id, filter, SubscriptionOptions::qos(qos))
            .await;
        assert_eq!(
            ack.reasons,
            vec![ReasonCode(qos as u8)],
            "SUBACK for {filter}"
        );
    }

    /// Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP).
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        packet_id: u16,
    ) {
        let mut p = Publish::new(topic, qos, payload.to_vec());
        p.retain = retain;
        p.packet_id = if qos == QoS::AtMostOnce { 0 } else { packet_id };
        self.send(Packet::Publish(p)).await;
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => match self.recv().await {
                Some(Packet::PubAck(a)) => assert_eq!(a.packet_id, packet_id),
                other => panic!("expected PUBACK, got {other:?}"),
            },
            QoS::ExactlyOnce => {
                match self.recv().await {
                    Some(Packet::PubRec(a)) => assert_eq!(a.packet_id, packet_id),
                    other => panic!("expected PUBREC, got {other:?}"),
                }
                self.send(Packet::PubRel(PubReply::new(packet_id))).await;
                match self.recv().await {
                    Some(Packet::PubComp(a)) => assert_eq!(a.packet_id, packet_id),
                    other => panic!("expected PUBCOMP, got {other:?}"),
                }
            }
        }
    }

    /// Receives a PUBLISH, failing on anything else.
    pub async fn expect_publish(&mut self) -> Publish {
        match self.recv().await {
            Some(Packet::Publish(p)) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Receives a PUBLISH and acknowledges it as the QoS requires (QoS 2 completed).
    pub async fn expect_publish_acked(&mut self) -> Publish {
        let p = self.expect_publish().await;
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(Packet::PubAck(PubReply::new(p.packet_id))).await,
            QoS::ExactlyOnce => {
                self.send(Packet::PubRec(PubReply::new(p.packet_id))).await;
                match self.recv().await {
                    Some(Packet::PubRel(r)) => assert_eq!(r.packet_id, p.packet_id),
                    other => panic!("expected PUBREL, got {other:?}"),
                }
                self.send(Packet::PubComp(PubReply::new(p.packet_id))).await;
            }
        }
        p
    }

    /// Sends DISCONNECT (normal) and waits for the close.
    pub async fn disconnect(mut self) {
        self.send(Packet::Disconnect(Default::default())).await;
        let _ = self.recv_within(WAIT).await;
    }
}
