#!/usr/bin/env python3
"""Broker CPU per CONNECT: comqtt against Mosquitto in the same run.

For each broker: N clients (200 at a time) open a TCP connection, send a 3.1.1 CONNECT (clean
session, keep alive 60), wait for CONNACK, send DISCONNECT and close. The broker's CPU time
(utime + stime from /proc/<pid>/stat) over the whole run, divided by N, is its cost of one
connection's life: accept, CONNECT, session, CONNACK, DISCONNECT, teardown. Run the pair
`ROUNDS` times alternating (the machine is noisy) and print every round and the medians.

usage: benches/connect_cost.py [N] [ROUNDS]   (default 5000 clients, 3 rounds)
  build first: cargo build --release --bin comqtt; COMQTT_BIN=path runs another build
"""
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import COMQTT, cpu_seconds, free_port  # noqa: E402  (the same broker binary and CPU reading)


def connect_packet(i):
    cid = f"conn-{i}".encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c"  # 3.1.1, clean session, keep alive 60
    body = var + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


async def one(i, port):
    r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(f"127.0.0.{2 + i % 200}", 0))
    w.write(connect_packet(i))
    ack = await r.readexactly(4)
    if ack[0] != 0x20 or ack[3] != 0:
        raise RuntimeError(f"client {i}: CONNACK {ack.hex()}")
    w.write(b"\xe0\x00")
    await w.drain()
    await r.read()  # until the broker closes, after DISCONNECT
    w.close()


async def clients(n, port):
    for start in range(0, n, 200):
        await asyncio.gather(*(one(i, port) for i in range(start, min(n, start + 200))))


def start(kind, tmp):
    port = free_port()
    if kind == "mosquitto":
        conf = os.path.join(tmp, f"m-{port}.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_connections -1\n")
        cmd = ["mosquitto", "-c", conf]
    else:
        cmd = [COMQTT, "serve", "--tcp", f"127.0.0.1:{port}", "--ws", "", "--http", "",
               "--storage-way", "0", "--level", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{kind} did not start")


def measure(kind, n, tmp):
    proc, port = start(kind, tmp)
    try:
        asyncio.run(clients(200, port))  # warm up
        before = cpu_seconds(proc.pid)
        asyncio.run(clients(n, port))
        return (cpu_seconds(proc.pid) - before) / n * 1e6
    finally:
        proc.terminate()
        proc.wait()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = {"comqtt": [], "mosquitto": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            # Alternating which goes first, so drift on a shared machine falls on both.
            order = ("comqtt", "mosquitto") if r % 2 == 0 else ("mosquitto", "comqtt")
            for kind in order:
                us = measure(kind, n, tmp)
                results[kind].append(us)
                print(f"round {r + 1}: {kind:10s} {us:6.1f} µs of broker CPU per connection")
    c, m = statistics.median(results["comqtt"]), statistics.median(results["mosquitto"])
    print(f"median over {rounds} rounds of {n} connections: comqtt {c:.1f} µs, Mosquitto {m:.1f} µs, "
          f"ratio {c / m:.2f}x (target <= 1.0x)")


main()
