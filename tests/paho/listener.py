"""paho-mqtt over a given transport: subscribe, publish at QoS 0/1/2, expect every message.

usage: listener.py PORT websockets|tcp [CAFILE]   (CAFILE turns on TLS)
"""
import sys
import threading

import paho.mqtt.client as mqtt

port, transport = int(sys.argv[1]), sys.argv[2]
cafile = sys.argv[3] if len(sys.argv) > 3 else None
got, subscribed, done = [], threading.Event(), threading.Event()


def client(cid):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5, transport=transport)
    if cafile:
        c.tls_set(ca_certs=cafile)
    return c


def on_message(c, userdata, msg):
    got.append((msg.topic, msg.payload, msg.qos))
    if len(got) == 3:
        done.set()


sub = client("paho-listener-sub")
sub.on_message = on_message
sub.on_subscribe = lambda *a: subscribed.set()
sub.connect("127.0.0.1", port, keepalive=30)
sub.loop_start()
sub.subscribe("listener/#", qos=2)
if not subscribed.wait(10):
    sys.exit("no SUBACK")
pub = client("paho-listener-pub")
pub.connect("127.0.0.1", port, keepalive=30)
pub.loop_start()
for qos in (0, 1, 2):
    pub.publish(f"listener/{qos}", f"over {transport} qos {qos}".encode(), qos=qos).wait_for_publish(10)
if not done.wait(10):
    sys.exit(f"received only {got}")
expected = [(f"listener/{q}", f"over {transport} qos {q}".encode(), q) for q in (0, 1, 2)]
if got != expected:
    sys.exit(f"got {got}, expected {expected}")
pub.disconnect()
sub.disconnect()
print("ok", transport, "tls" if cafile else "plain")
