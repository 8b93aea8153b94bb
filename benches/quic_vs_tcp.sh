#!/bin/bash
# MQTT over QUIC vs TCP on one broker (comqtt serve --storage-way 0 --quic): comqtt-bench p2p
# runs over tcp:// and quic:// in turn; prints messages/s and broker CPU per 10k messages
# (utime+stime from /proc) for each. Needs: cargo build --release --bin comqtt --bin comqtt-bench.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
B=$here/target/release/comqtt; BENCH=$here/target/release/comqtt-bench
port=$((20000 + RANDOM % 10000))
$B serve --storage-way 0 --tcp 127.0.0.1:$port --quic 127.0.0.1:$port --ws "" --http "" --level 2 >/tmp/quic-bench-broker.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
# Up once its TCP port answers (at most 10 s).
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
ticks() { awk '{print $14+$15}' /proc/$pid/stat; }
run() { # label url args...
    local label=$1 url=$2; shift 2
    local t0 t1 out
    t0=$(ticks)
    out=$($BENCH -broker "$url" -skip-tls-verification -no-progress "$@")
    t1=$(ticks)
    local msgs rate
    msgs=$(grep -m1 '^Received Messages:' <<<"$out" | awk '{print $3}')
    rate=$(grep -m1 '^Receiving:' <<<"$out" | awk '{print $2}')
    local p50 p99
    p50=$(grep -m1 '^p50:' <<<"$out" | awk '{print $2, $3}')
    p99=$(grep -m1 '^p99:' <<<"$out" | awk '{print $2, $3}')
    printf '%-28s %-5s %9s msg/s  %6.2f CPU ticks/10k msgs  p50 %s  p99 %s\n' "$label" "${url%%:*}" "$rate" \
        "$(echo "($t1 - $t0) * 10000 / $msgs" | bc -l)" "$p50" "$p99"
}
for i in 1 2; do
    for scheme in tcp quic; do
        run "p2p QoS 0, 50 -> 50" "$scheme://127.0.0.1:$port" -num-clients 50 -num-messages 2000
        run "p2p QoS 1, 50 -> 50" "$scheme://127.0.0.1:$port" -num-clients 50 -num-messages 1000 -publisher-qos 1 -subscriber-qos 1
        run "sync QoS 1, 50 x 1 inflight" "$scheme://127.0.0.1:$port" -num-clients 50 -num-messages 500 -publisher-qos 1 -subscriber-qos 1 -max-inflight 1
    done
done
