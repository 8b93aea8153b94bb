#!/bin/bash
# What pprof-enable costs when no profile runs: comqtt serve --storage-way 0 with and without
# --pprof-enable, alternating, under comqtt-bench QoS 1 1000 clients x 20 msg/s for 8 s; prints the
# broker CPU ticks (utime+stime) per run. Needs: cargo build --release --bin comqtt --bin comqtt-bench.
B=$(dirname "$0")/../target/release/comqtt; BENCH=$(dirname "$0")/../target/release/comqtt-bench
for mode in off on off on; do
  port=$((20000 + RANDOM % 10000)); hport=$((port+1))
  extra=""; [ $mode = on ] && extra="--pprof-enable --http-token t"
  $B serve --storage-way 0 --tcp 127.0.0.1:$port --http 127.0.0.1:$hport $extra > /tmp/ab-$mode.log 2>&1 &
  pid=$!
  # Up once its TCP port answers (at most 10 s).
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  t0=$(awk '{print $14+$15}' /proc/$pid/stat)
  $BENCH -broker tcp://127.0.0.1:$port -num-clients 1000 -rate 20 -duration 8s -publisher-qos 1 -subscriber-qos 1 -rampup-size 100 -rampup-delay 100ms > /tmp/ab-bench-$mode.txt 2>&1
  t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  kill $pid; wait $pid 2>/dev/null
  msgs=$(grep -iE "received|delivered" /tmp/ab-bench-$mode.txt | head -3 | tr '\n' ' ')
  echo "pprof $mode: broker CPU ticks $((t1-t0)) ; $msgs"
done
