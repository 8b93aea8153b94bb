"""A shared subscription `$share/g/t` with two paho clients: each message is received exactly
once in total, and both members get a share."""

import paho.mqtt.client as mqtt

from mqttcheck import Client, check, done, fail, watchdog
import queue

watchdog()
members = [Client(f"paho-share-{i}", mqtt.MQTTv5) for i in range(2)]
for m in members:
    m.connect()
    m.subscribe("$share/g/paho/shared", 1)
publ = Client("paho-share-pub", mqtt.MQTTv5)
publ.connect()
count = 20
for i in range(count):
    publ.publish("paho/shared", f"s{i}".encode(), qos=1)

received = {}
per_member = [0, 0]
import time
deadline = time.monotonic() + 5
while sum(per_member) < count and time.monotonic() < deadline:
    for idx, m in enumerate(members):
        try:
            msg = m.messages.get(timeout=0.05)
        except queue.Empty:
            continue
        check(msg.topic == "paho/shared", f"topic {msg.topic!r}")
        if msg.payload in received:
            fail(f"{msg.payload!r} received twice (members {received[msg.payload]} and {idx})")
        received[msg.payload] = idx
        per_member[idx] += 1
missing = [i for i in range(count) if f"s{i}".encode() not in received]
check(not missing, f"messages never received: {missing}")
for m in members:
    m.expect_nothing(0.3)
check(all(n > 0 for n in per_member), f"one member got everything: {per_member}")
for m in members + [publ]:
    m.disconnect()
done(f"shared: {count} messages once each, split {per_member}")
