#!/usr/bin/env python3
"""MQTT over QUIC with a third-party QUIC stack (aioquic): opens a QUIC connection to
127.0.0.1:PORT with ALPN "mqtt" (the broker's certificate is self-signed: not verified),
one bidirectional stream, and speaks hand-built MQTT 3.1.1 on it: CONNECT, SUBSCRIBE aq/#
(QoS 1), PUBLISH aq/x at QoS 1 (PUBACK), then receives its own message back and answers
its PUBACK, then DISCONNECT. Exits non-zero with a message on any failure."""

import asyncio
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.quic.configuration import QuicConfiguration


def string(s: bytes) -> bytes:
    return len(s).to_bytes(2, "big") + s


def packet(first: int, body: bytes) -> bytes:
    n, length = len(body), b""
    while True:
        digit, n = n % 128, n // 128
        length += bytes([digit | (0x80 if n else 0)])
        if not n:
            return bytes([first]) + length + body


async def read_packet(reader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    mult, length = 1, 0
    while True:
        b = (await reader.readexactly(1))[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return first, await reader.readexactly(length)


def expect(what: str, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


async def main(port: int):
    config = QuicConfiguration(is_client=True, alpn_protocols=["mqtt"], idle_timeout=10)
    config.verify_mode = ssl.CERT_NONE
    async with connect("127.0.0.1", port, configuration=config) as quic:
        reader, writer = await quic.create_stream()
        wait = lambda: asyncio.wait_for(read_packet(reader), 10)
        connect_body = string(b"MQTT") + bytes([4, 0x02]) + (60).to_bytes(2, "big") + string(b"aioquic")
        writer.write(packet(0x10, connect_body))
        expect("CONNACK", await wait(), (0x20, b"\x00\x00"))
        writer.write(packet(0x82, (1).to_bytes(2, "big") + string(b"aq/#") + b"\x01"))
        expect("SUBACK", await wait(), (0x90, b"\x00\x01\x01"))
        payload = b"hello from aioquic"
        writer.write(packet(0x32, string(b"aq/x") + (2).to_bytes(2, "big") + payload))
        got_ack = got_message = False
        while not (got_ack and got_message):
            first, body = await wait()
            if first == 0x40:
                expect("PUBACK", body, b"\x00\x02")
                got_ack = True
            elif first & 0xF0 == 0x30:
                qos = (first >> 1) & 3
                topic_len = int.from_bytes(body[:2], "big")
                topic = body[2 : 2 + topic_len]
                rest = body[2 + topic_len :]
                expect("topic", topic, b"aq/x")
                expect("QoS", qos, 1)
                packet_id, message = rest[:2], rest[2:]
                expect("payload", message, payload)
                writer.write(packet(0x40, packet_id))
                got_message = True
            else:
                sys.exit(f"unexpected packet 0x{first:02x}")
        writer.write(packet(0xE0, b""))
        await writer.drain()
        writer.write_eof()
    print("aioquic: CONNECT, SUBSCRIBE, PUBLISH QoS 1 and its delivery over QUIC ok")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
