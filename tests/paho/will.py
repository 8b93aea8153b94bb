"""The will is published when a client's connection ends without DISCONNECT, and not when it
disconnects normally."""

from mqttcheck import PROTOCOLS, Client, check, done, watchdog

watchdog()
for name, protocol in PROTOCOLS:
    topic = f"paho/will/{name}"
    watcher = Client(f"paho-will-watch-{name}", protocol)
    watcher.connect()
    watcher.subscribe(topic, 1)

    polite = Client(f"paho-will-polite-{name}", protocol,
                    will={"topic": topic, "payload": b"polite", "qos": 1})
    polite.connect()
    polite.disconnect()
    watcher.expect_nothing(0.3)

    doomed = Client(f"paho-will-doomed-{name}", protocol,
                    will={"topic": topic, "payload": b"died " + name.encode(), "qos": 1})
    doomed.connect()
    doomed.drop()
    msg = watcher.expect("the will")
    check(msg.topic == topic, f"{name}: will topic {msg.topic!r}")
    check(msg.payload == b"died " + name.encode(), f"{name}: will payload {msg.payload!r}")
    check(msg.qos == 1, f"{name}: will delivered at QoS {msg.qos}")
    watcher.expect_nothing(0.2)
    watcher.disconnect()
done("will: published on abnormal disconnect only, 2 protocols")
