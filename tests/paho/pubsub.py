"""Subscribe, publish 20 messages at each QoS over MQTT 3.1.1 and 5.0; all arrive in order."""

from mqttcheck import PROTOCOLS, Client, check, done, watchdog

watchdog()
for name, protocol in PROTOCOLS:
    sub = Client(f"paho-sub-{name}", protocol)
    sub.connect()
    publ = Client(f"paho-pub-{name}", protocol)
    publ.connect()
    for qos in (0, 1, 2):
        topic = f"paho/{name}/qos{qos}"
        sub.subscribe(topic, qos)
        for i in range(20):
            publ.publish(topic, f"{name} qos{qos} #{i}".encode(), qos=qos)
        for i in range(20):
            msg = sub.expect(f"{name} QoS {qos} message {i}")
            check(msg.topic == topic, f"{name} QoS {qos}: topic {msg.topic!r}")
            check(msg.payload == f"{name} qos{qos} #{i}".encode(),
                  f"{name} QoS {qos}: message {i} is {msg.payload!r} (lost or out of order)")
            check(msg.qos == qos, f"{name} QoS {qos}: delivered at QoS {msg.qos}")
            check(not msg.retain, f"{name} QoS {qos}: retain flag set on a live message")
        sub.expect_nothing(0.2)
    publ.disconnect()
    sub.disconnect()
done("pubsub: 2 protocols x 3 QoS x 20 messages in order")
