#!/usr/bin/env python3
"""What hostile or greedy clients cost: comqtt against Mosquitto (Debian package) in one run.

1. One client subscribes to 100,000 distinct filters (1,000 per SUBSCRIBE): broker CPU for all
   of them, and for the first and last 10,000.
2. N clients (default 19,900) with 10 distinct filters each: broker RSS growth per client and
   per subscription (connections included; idle connections alone are benches/idle_memory.py).
3. 200,000 retained topics, then one QoS 1 subscriber to `#` that acknowledges as it reads:
   time until it has every message, and the broker's CPU meanwhile.

usage: benches/hostile.py [N_CLIENTS]   (build first: cargo build --release --bin comqtt)
"""
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
COMQTT = os.path.join(ROOT, "target", "release", "comqtt")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return len(x).to_bytes(2, "big") + x


def connect(cid):
    return packet(0x10, s("MQTT") + bytes([4, 2, 0, 0]) + s(cid))


def subscribe(pid, filters, qos=1):
    body = pid.to_bytes(2, "big") + b"".join(s(f) + bytes([qos]) for f in filters)
    return packet(0x82, body)


def publish(topic, payload, retain=False, qos=0, pid=1):
    body = s(topic) + (pid.to_bytes(2, "big") if qos else b"") + payload
    return packet(0x30 | (qos << 1) | (1 if retain else 0), body)


class Reader:
    """Splits a socket's bytes into MQTT packets."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def packets(self):
        while True:
            if len(self.buf) >= 2:
                mult, n, i = 1, 0, 1
                while i < len(self.buf):
                    b = self.buf[i]
                    n += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        break
                else:
                    i = None
                if i is not None and len(self.buf) >= i + n:
                    first, body = self.buf[0], bytes(self.buf[i:i + n])
                    del self.buf[:i + n]
                    yield first, body
                    continue
            data = self.sock.recv(1 << 20)
            if not data:
                raise RuntimeError("connection closed")
            self.buf += data


def dial(port, cid, source=None):
    sock = socket.create_connection(("127.0.0.1", port), source_address=(source, 0) if source else None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect(cid))
    r = Reader(sock)
    first, body = next(r.packets())
    assert first == 0x20 and body[1] == 0, (first, body)
    return sock, r


class Broker:
    def __init__(self, kind, tmp):
        self.port = free_port()
        self.kind = kind
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if kind == "mosquitto":
            conf = os.path.join(tmp, f"mosquitto-{self.port}.conf")
            with open(conf, "w") as f:
                f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"max_connections -1\nmax_queued_messages 1000000\nmax_inflight_messages 100\n")
            cmd = ["mosquitto", "-c", conf]
        else:
            cmd = [COMQTT, "serve", "--tcp", f"127.0.0.1:{self.port}", "--ws", "", "--http", "",
                   "--level", "3", "--storage-way", "0"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)))
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port)).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.3)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def rss(self):
        return rss_kib(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def many_filters(b):
    sock, r = dial(b.port, "hoarder")
    n, per = 100_000, 1_000
    marks = []
    start = b.cpu()
    t0 = time.time()
    for batch in range(n // per):
        sock.sendall(subscribe(batch + 1, [f"hoard/{batch}/{i}" for i in range(per)]))
        first, body = next(r.packets())
        assert first == 0x90 and len(body) == 2 + per and all(c == 1 for c in body[2:]), body[:8]
        if batch in (0, 9, 89, 99):
            marks.append(b.cpu())
    wall = time.time() - t0
    total = b.cpu() - start
    sock.close()
    first10k = marks[1] - start
    last10k = marks[3] - marks[2]
    return f"{total:.2f} s CPU for 100k filters ({wall:.1f} s wall); first 10k {first10k:.2f} s, last 10k {last10k:.2f} s"


def memory_per_subscription(b, n):
    before = b.rss()
    socks = []
    for i in range(n):
        sock, r = dial(b.port, f"m-{i}", source=f"127.0.0.{2 + i % 200}")
        sock.sendall(subscribe(1, [f"dev/{i}/cmd/{k}" for k in range(10)]))
        first, _ = next(r.packets())
        assert first == 0x90
        socks.append(sock)
    time.sleep(2)
    after = b.rss()
    per_client = (after - before) * 1024 / n
    for s_ in socks:
        s_.close()
    return f"{n} clients x 10 filters: RSS {before} -> {after} KiB, {per_client:.0f} bytes per client ({per_client / 10:.0f} per subscription, connection included)"


def retained_delivery(b, n=200_000):
    sock, r = dial(b.port, "retainer")
    out = bytearray()
    for i in range(n - 1):
        out += publish(f"ret/{i % 100}/{i}", b"r", retain=True)
        if len(out) > 1 << 20:
            sock.sendall(out)
            out.clear()
    out += publish(f"ret/last/{n - 1}", b"r", retain=True, qos=1, pid=1)
    sock.sendall(out)
    for first, _ in r.packets():
        if first >> 4 == 4:
            break
    sock.close()
    sub, r = dial(b.port, "greedy")
    start_cpu = b.cpu()
    t0 = time.time()
    sub.sendall(subscribe(1, ["ret/#"]))
    got = set()
    acks = bytearray()
    sub.settimeout(30)
    try:
        for first, body in r.packets():
            kind = first >> 4
            if kind == 9:
                continue
            assert kind == 3, first
            tl = int.from_bytes(body[:2], "big")
            topic = body[2:2 + tl]
            if (first >> 1) & 3:
                acks += packet(0x40, body[2 + tl:4 + tl])
            got.add(topic)
            if len(acks) > 4096 or len(got) == n:
                sub.sendall(acks)
                acks.clear()
            if len(got) == n:
                break
    except (socket.timeout, RuntimeError):
        pass
    wall = time.time() - t0
    cpu = b.cpu() - start_cpu
    sub.close()
    return f"{len(got)} of {n} retained messages to a QoS 1 '#' subscriber in {wall:.2f} s, broker CPU {cpu:.2f} s"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 19_900
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ["comqtt", "mosquitto"]:
            for name, run in [("100k filters", many_filters),
                              ("memory", lambda b: memory_per_subscription(b, n)),
                              ("200k retained", retained_delivery)]:
                b = Broker(kind, tmp)
                try:
                    print(f"{kind:9} {name:13} {run(b)}", flush=True)
                finally:
                    b.stop()


main()
