#!/usr/bin/env python3
"""Memory per idle MQTT connection: starts a broker, opens N clients that CONNECT (3.1.1,
keep alive 0) and then stay idle, and prints the broker's resident memory before and after.

usage: benches/idle_memory.py [N] [BROKER_CMD...]
  default N = 10000, default broker: target/release/comqtt serve --tcp 127.0.0.1:PORT --ws ""
  e.g. benches/idle_memory.py 10000 mosquitto  (runs mosquitto with a generated config)
"""
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect_packet(i):
    cid = f"idle-{i}".encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x00"  # 3.1.1, clean session, keep alive 0
    body = var + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


async def client(i, port, conns):
    # Spread over 127.0.0.x source addresses so 10k+ clients fit in the ephemeral port range.
    r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(f"127.0.0.{2 + i % 200}", 0))
    w.write(connect_packet(i))
    ack = await r.readexactly(4)
    if ack[0] != 0x20 or ack[3] != 0:
        raise RuntimeError(f"client {i}: CONNACK {ack.hex()}")
    conns.append(w)


async def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    name = sys.argv[2] if len(sys.argv) > 2 else "comqtt"
    if name == "mosquitto":
        conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        conf.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n")
        conf.close()
        cmd = ["mosquitto", "-c", conf.name]
    else:
        binary = os.path.join(os.path.dirname(__file__), "..", "target", "release", "comqtt")
        cmd = [binary, "serve", "--tcp", f"127.0.0.1:{port}", "--ws", "", "--http", "", "--storage-way", "0", "--level", "3"]
    broker = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)))
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.3)
        before = rss_kib(broker.pid)
        conns = []
        for start in range(0, n, 500):
            await asyncio.gather(*(client(i, port, conns) for i in range(start, min(n, start + 500))))
        await asyncio.sleep(2)
        after = rss_kib(broker.pid)
        print(f"{name}: {len(conns)} idle connections, RSS {before} KiB -> {after} KiB, "
              f"{(after - before) * 1024 / len(conns):.0f} bytes per connection")
        for w in conns:
            w.close()
    finally:
        broker.terminate()
        broker.wait()


asyncio.run(main())
