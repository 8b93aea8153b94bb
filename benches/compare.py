#!/usr/bin/env python3
"""comqtt against Mosquitto (Debian package) under the same load, in one run.

For each scenario and each broker: start the broker on a free loopback port, run comqtt-bench
(release build) against it, and read the broker's CPU time from /proc/<pid>/stat before and
after. Prints delivered messages/s, broker CPU seconds per 100k delivered messages and the
comqtt/Mosquitto ratios.

usage: benches/compare.py [--quick] [--persistence] [--cluster] [--realistic] [--rounds N]
  (build first: cargo build --release --bin comqtt --bin comqtt-bench;
   COMQTT_BIN=path runs another comqtt build, e.g. an older one for a before/after)
  --rounds N       run each scenario N times per broker, alternating, and print the
                  medians (and their ratio) after each run's line: this machine is noisy
  --realistic     the load most deployments run: 1000 clients each publishing 20 msg/s
                  (QoS 1 and QoS 0) and 50 publishers that wait for each PUBACK
                  (-max-inflight 1); prints CPU per message, the ratio to Mosquitto and
                  p50 / p99 / p99.9 publish-to-delivery latency
  --persistence   QoS 1 to persistent sessions: comqtt memory / embedded / redis vs
                  Mosquitto with `persistence true`
  --cluster       a two-node comqtt cluster with the publishers on one node and the
                  subscribers on the other (every message crosses nodes), against one comqtt
                  node and Mosquitto; cluster CPU is both nodes'; and the same cluster with
                  mutual TLS between its nodes (certificates made with openssl)
"""
import urllib.request
import json
import os
import shutil
import socket
import subprocess
import statistics
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
COMQTT = os.environ.get("COMQTT_BIN") or os.path.join(ROOT, "target", "release", "comqtt")
BENCH = os.path.join(ROOT, "target", "release", "comqtt-bench")
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Broker:
    def __init__(self, kind, tmp, persistence=False, redis_port=None):
        self.port = free_port()
        self.kind = kind
        if kind == "mosquitto":
            conf = os.path.join(tmp, f"mosquitto-{self.port}.conf")
            with open(conf, "w") as f:
                f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        f"max_queued_messages 1000000\nmax_inflight_messages 0\n"
                        f"persistence {'true' if persistence else 'false'}\n"
                        f"persistence_location {tmp}/\nautosave_interval 1\n")
            cmd = ["mosquitto", "-c", conf]
        else:
            way = {"comqtt": "0", "comqtt-embedded": "1", "comqtt-redis": "3"}[kind]
            cmd = [COMQTT, "serve", "--tcp", f"127.0.0.1:{self.port}", "--ws", "", "--http", "",
                   "--level", "3", "--storage-way", way,
                   "--storage-path", os.path.join(tmp, f"store-{self.port}.redb")]
            if redis_port:
                cmd += ["--redis", f"127.0.0.1:{redis_port}"]
            # The queue bounds must not drop messages under this load.
            conf = os.path.join(tmp, f"comqtt-{self.port}.yml")
            with open(conf, "w") as f:
                f.write("mqtt:\n  options:\n    capabilities:\n"
                        "      maximum-client-writes-pending: 1000000\n      maximum-queued-messages: 1000000\n")
            cmd += ["--conf", conf]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def cluster_pki(tmp):
    """A CA and a node certificate for 127.0.0.1 (server and client) in tmp; their flags."""
    script = (
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca"
        " && printf 'basicConstraints=CA:FALSE\\nsubjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > node.ext"
        " && openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr -subj /CN=node"
        " && openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem -days 2 -extfile node.ext")
    subprocess.run(["sh", "-c", script], cwd=tmp, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return ["--cluster-tls-cert", os.path.join(tmp, "node.pem"), "--cluster-tls-key", os.path.join(tmp, "node.key"),
            "--cluster-tls-ca", os.path.join(tmp, "ca.pem")]


class Cluster:
    """Two comqtt nodes in memory mode: publishers connect to the first, subscribers to the second."""

    def __init__(self, tmp, tls=False):
        self.nodes = []
        extra = cluster_pki(tmp) if tls else []
        gossip0 = free_port()
        for i in range(2):
            port, http = free_port(), free_port()
            gossip = gossip0 if i == 0 else free_port()
            conf = os.path.join(tmp, f"comqtt-{port}.yml")
            with open(conf, "w") as f:
                f.write("mqtt:\n  options:\n    capabilities:\n"
                        "      maximum-client-writes-pending: 1000000\n      maximum-queued-messages: 1000000\n")
            cmd = [COMQTT, "serve", "--conf", conf, "--tcp", f"127.0.0.1:{port}", "--ws", "",
                   "--http", f"127.0.0.1:{http}", "--level", "3", "--storage-way", "0",
                   "--node-name", f"n{i}", "--gossip-port", str(gossip), "--raft-port", str(free_port()),
                   "--grpc-port", str(free_port()), "--raft-dir", os.path.join(tmp, f"raft-{port}"),
                   "--members", f"127.0.0.1:{gossip0}"] + (["--raft-bootstrap"] if i == 0 else []) + extra
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(port)
            self.nodes.append((proc, port, http))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.nodes[1][2]}/api/v1/cluster/raft") as r:
                    if len(json.load(r)["voters"]) == 2:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the two-node cluster did not form")

    def urls(self):
        return ",".join(f"tcp://127.0.0.1:{p}" for _, p, _ in self.nodes)

    def cpu(self):
        return sum(cpu_seconds(proc.pid) for proc, _, _ in self.nodes)

    def stop(self):
        for proc, _, _ in self.nodes:
            proc.terminate()
        for proc, _, _ in self.nodes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def run(broker, args):
    cluster = isinstance(broker, Cluster)
    cpu_now = broker.cpu if cluster else (lambda: cpu_seconds(broker.proc.pid))
    url = broker.urls() if cluster else f"tcp://127.0.0.1:{broker.port}"
    before = cpu_now()
    started = time.monotonic()
    out = subprocess.run([BENCH, "-broker", url, "-no-progress", "-json",
                          "-global-timeout", "300s", *args], capture_output=True, text=True)
    wall = time.monotonic() - started
    cpu = cpu_now() - before
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"comqtt-bench failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    r = report["results"]
    received = r["received"]
    window = report["overall"]["receive_seconds"] or wall
    lat = report.get("latency_ms") or {}
    return {
        "received": received,
        "lost": r["lost"],
        "msgs_per_s": received / window if window else 0.0,
        "cpu_per_100k": cpu / received * 100_000 if received else float("nan"),
        "cpu": cpu,
        "p50_ms": lat.get("p50"),
        "p99_ms": lat.get("p99"),
        "p999_ms": lat.get("p99_9"),
    }


SCENARIOS = [
    ("p2p QoS 0, 50 publishers -> 50 subscribers", ["-num-clients", "50", "-num-messages", "20000"]),
    ("p2p QoS 1, 50 publishers -> 50 subscribers",
     ["-num-clients", "50", "-num-messages", "5000", "-publisher-qos", "1", "-subscriber-qos", "1"]),
    ("fan-out QoS 0, 1 publisher -> 1000 subscribers",
     ["-scenario", "fanout", "-num-clients", "1000", "-num-messages", "200"]),
]
QUICK = [
    ("p2p QoS 0, 10 -> 10", ["-num-clients", "10", "-num-messages", "2000"]),
    ("p2p QoS 1, 10 -> 10", ["-num-clients", "10", "-num-messages", "1000", "-publisher-qos", "1", "-subscriber-qos", "1"]),
    ("fan-out QoS 0, 1 -> 100", ["-scenario", "fanout", "-num-clients", "100", "-num-messages", "100"]),
]
# Many clients at a modest rate, and devices that wait for each acknowledgement.
REALISTIC = [
    ("realistic QoS 1: 1000 clients x 20 msg/s, 10 s",
     ["-num-clients", "1000", "-rate", "20", "-duration", "10s", "-publisher-qos", "1", "-subscriber-qos", "1",
      "-rampup-size", "100", "-rampup-delay", "100ms"]),
    ("realistic QoS 0: 1000 clients x 20 msg/s, 10 s",
     ["-num-clients", "1000", "-rate", "20", "-duration", "10s", "-rampup-size", "100", "-rampup-delay", "100ms"]),
    ("synchronous QoS 1: 50 publishers, 1 in flight, 50 x 2000",
     ["-num-clients", "50", "-num-messages", "2000", "-publisher-qos", "1", "-subscriber-qos", "1",
      "-max-inflight", "1"]),
]
PERSISTENT = [
    ("QoS 1 to persistent sessions, 20 -> 20",
     ["-num-clients", "20", "-num-messages", "2000", "-publisher-qos", "1", "-subscriber-qos", "1",
      "-session-expiry", "3600"]),
]


def show(name, kind, res):
    lat = [f"{res[k]:.2f}" if res[k] is not None else "-" for k in ("p50_ms", "p99_ms", "p999_ms")]
    print(f"{name:58} {kind:16} {res['msgs_per_s']:10.0f} {res['cpu_per_100k']:11.3f} "
          f"{lat[0]:>8} {lat[1]:>8} {lat[2]:>8} {res['lost']:6}", flush=True)


def median_of(results):
    """Each figure's median over the rounds (lost: the sum)."""
    out = {}
    for key in results[0]:
        values = [r[key] for r in results if r[key] is not None]
        if key == "lost":
            out[key] = sum(values)
        else:
            out[key] = statistics.median(values) if values else None
    return out


def main():
    quick = "--quick" in sys.argv
    persistence = "--persistence" in sys.argv
    cluster = "--cluster" in sys.argv
    realistic = "--realistic" in sys.argv
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 1
    if rounds < 1:
        sys.exit("--rounds must be at least 1")
    for binary in (COMQTT, BENCH):
        if not os.path.exists(binary):
            sys.exit(f"missing {binary}: cargo build --release --bin comqtt --bin comqtt-bench")
    tmp = tempfile.mkdtemp(prefix="comqtt-compare-")
    redis = None
    try:
        if persistence:
            redis_port = free_port()
            redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", tmp],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(redis_port)
            brokers = [("comqtt", {}), ("comqtt-embedded", {}), ("comqtt-redis", {"redis_port": redis_port}),
                       ("mosquitto", {"persistence": True})]
            scenarios = PERSISTENT
        elif cluster:
            brokers = [("comqtt", {}), ("comqtt-cluster", {}), ("cluster-tls", {}), ("mosquitto", {})]
            scenarios = QUICK if quick else SCENARIOS
        elif realistic:
            brokers = [("comqtt", {}), ("mosquitto", {})]
            scenarios = REALISTIC
        else:
            brokers = [("comqtt", {}), ("mosquitto", {})]
            scenarios = QUICK if quick else SCENARIOS
        print(f"{'scenario':58} {'broker':16} {'msgs/s':>10} {'CPU s/100k':>11} {'p50 ms':>8} {'p99 ms':>8} {'p99.9':>8} {'lost':>6}")
        for name, args in scenarios:
            runs = {kind: [] for kind, _ in brokers}
            # Rounds alternate the brokers, so drift on a shared machine falls on both.
            for r in range(rounds):
                # Alternating which goes first, so drift on a shared machine falls on both.
                for kind, opts in (brokers if r % 2 == 0 else brokers[::-1]):
                    if kind in ("comqtt-cluster", "cluster-tls"):
                        b = Cluster(tmp, tls=kind == "cluster-tls")
                    else:
                        b = Broker(kind, tmp, **opts)
                    try:
                        res = run(b, args)
                    finally:
                        b.stop()
                    runs[kind].append(res)
                    if rounds > 1:
                        show(name, kind, res)
            results = {kind: median_of(r) for kind, r in runs.items()}
            for kind, _ in brokers:
                show(name, kind if rounds == 1 else f"{kind} (med)", results[kind])
            if "mosquitto" in results and "comqtt" in results:
                c, m = results["comqtt"], results["mosquitto"]
                target = "<= 0.7x CPU, latency <= Mosquitto's" if realistic else ">= 1.5x msgs/s, <= 0.7x CPU"
                print(f"{'':58} {'ratio c/m':16} {c['msgs_per_s'] / m['msgs_per_s']:9.2f}x "
                      f"{c['cpu_per_100k'] / m['cpu_per_100k']:10.2f}x   (targets: {target})")
    finally:
        if redis:
            redis.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
