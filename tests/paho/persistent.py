"""A persistent session (clean session 0 / clean start 0 with a session expiry) receives the
QoS 1 messages published while it was offline."""

import paho.mqtt.client as mqtt

from mqttcheck import Client, check, done, watchdog

watchdog()
for name, protocol, expiry in [("MQTTv311", mqtt.MQTTv311, None), ("MQTTv5", mqtt.MQTTv5, 300)]:
    topic = f"paho/persist/{name}"
    cid = f"paho-persist-{name}"
    sub = Client(cid, protocol, clean=False, session_expiry=expiry)
    present = sub.connect()
    check(not present, f"{name}: session present on the first connection")
    sub.subscribe(topic, 1)
    sub.disconnect()

    publ = Client(f"paho-persist-pub-{name}", protocol)
    publ.connect()
    for i in range(10):
        publ.publish(topic, f"offline {i}".encode(), qos=1)
    publ.disconnect()

    again = Client(cid, protocol, clean=False, session_expiry=expiry)
    present = again.connect()
    check(present, f"{name}: session not present on reconnection")
    for i in range(10):
        msg = again.expect(f"{name} offline message {i}")
        check(msg.payload == f"offline {i}".encode(), f"{name}: offline message {i} is {msg.payload!r}")
        check(msg.qos == 1, f"{name}: offline message at QoS {msg.qos}")
    again.expect_nothing(0.3)
    again.disconnect()

    # A clean connection discards the session.
    clean = Client(cid, protocol, clean=True, session_expiry=0 if expiry else None)
    check(not clean.connect(), f"{name}: session present after a clean connection")
    clean.disconnect()
done("persistent: offline QoS 1 messages delivered on reconnection, 2 protocols")
