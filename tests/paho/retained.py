"""A retained message reaches a later subscriber, with the retain flag; an empty retained
message clears it."""

from mqttcheck import PROTOCOLS, Client, check, done, watchdog

watchdog()
for name, protocol in PROTOCOLS:
    topic = f"paho/retained/{name}"
    publ = Client(f"paho-ret-pub-{name}", protocol)
    publ.connect()
    publ.publish(topic, b"kept " + name.encode(), qos=1, retain=True)
    publ.disconnect()

    late = Client(f"paho-ret-late-{name}", protocol)
    late.connect()
    late.subscribe(topic, 1)
    msg = late.expect("the retained message")
    check(msg.payload == b"kept " + name.encode(), f"{name}: retained payload {msg.payload!r}")
    check(msg.retain, f"{name}: retain flag not set on the retained message")
    check(msg.qos == 1, f"{name}: retained message at QoS {msg.qos}")
    late.expect_nothing(0.2)

    # A live message to the same subscriber is not flagged retained.
    publ = Client(f"paho-ret-pub2-{name}", protocol)
    publ.connect()
    publ.publish(topic, b"live", qos=1, retain=True)
    msg = late.expect("the live message")
    check(msg.payload == b"live" and not msg.retain, f"{name}: live message {msg.payload!r} retain={msg.retain}")
    # Clearing: an empty retained message.
    publ.publish(topic, b"", qos=1, retain=True)
    late.expect("the clearing message")
    publ.disconnect()
    late.disconnect()

    later = Client(f"paho-ret-later-{name}", protocol)
    later.connect()
    later.subscribe(topic, 1)
    later.expect_nothing(0.3)
    later.disconnect()
done("retained: stored, flagged and cleared for 2 protocols")
