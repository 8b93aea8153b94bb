"""MQTT 5.0 PUBLISH properties reach the subscriber unchanged (user properties in order,
content type, response topic, correlation data, payload format), and the message expiry
interval arrives reduced by the time the message waited, never increased."""

import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes

from mqttcheck import Client, check, done, properties, watchdog

watchdog()
topic = "paho/props"
sub = Client("paho-props-sub", mqtt.MQTTv5)
sub.connect()
sub.subscribe(topic, 1)
publ = Client("paho-props-pub", mqtt.MQTTv5)
publ.connect()

user = [("k1", "v1"), ("k2", "v2"), ("k1", "again")]
props = properties(PacketTypes.PUBLISH,
                   UserProperty=user,
                   ContentType="application/json",
                   ResponseTopic="paho/reply/here",
                   CorrelationData=b"\x00corr\xff",
                   PayloadFormatIndicator=1,
                   MessageExpiryInterval=120)
publ.publish(topic, b'{"a":1}', qos=1, props=props)
msg = sub.expect("the message with properties")
got = msg.properties
check(msg.payload == b'{"a":1}', f"payload {msg.payload!r}")
check(getattr(got, "UserProperty", None) == user, f"user properties {getattr(got, 'UserProperty', None)!r}")
check(getattr(got, "ContentType", None) == "application/json", f"content type {getattr(got, 'ContentType', None)!r}")
check(getattr(got, "ResponseTopic", None) == "paho/reply/here", f"response topic {getattr(got, 'ResponseTopic', None)!r}")
check(getattr(got, "CorrelationData", None) == b"\x00corr\xff",
      f"correlation data {getattr(got, 'CorrelationData', None)!r}")
check(getattr(got, "PayloadFormatIndicator", None) == 1,
      f"payload format indicator {getattr(got, 'PayloadFormatIndicator', None)!r}")
expiry = getattr(got, "MessageExpiryInterval", None)
check(expiry is not None and 118 <= expiry <= 120, f"message expiry interval {expiry!r}")

# A message without properties arrives without them.
publ.publish(topic, b"bare", qos=1)
msg = sub.expect("the message without properties")
check(msg.payload == b"bare", f"payload {msg.payload!r}")
for name in ("UserProperty", "ContentType", "ResponseTopic", "CorrelationData", "MessageExpiryInterval"):
    check(not hasattr(msg.properties, name), f"bare message carries {name}")

# Expiry while queued for an offline session: the remaining time is sent [MQTT-3.3.2-6].
off = Client("paho-props-offline", mqtt.MQTTv5, clean=True, session_expiry=300)
off.connect()
off.subscribe("paho/props/offline", 1)
off.disconnect()
publ.publish("paho/props/offline", b"waits", qos=1,
             props=properties(PacketTypes.PUBLISH, MessageExpiryInterval=100))
publ.publish("paho/props/offline", b"expires", qos=1,
             props=properties(PacketTypes.PUBLISH, MessageExpiryInterval=1))
time.sleep(2.2)
back = Client("paho-props-offline", mqtt.MQTTv5, clean=False, session_expiry=300)
check(back.connect(), "offline session not present")
msg = back.expect("the queued message")
check(msg.payload == b"waits", f"queued message {msg.payload!r} (the expired one must not be sent)")
expiry = getattr(msg.properties, "MessageExpiryInterval", None)
check(expiry is not None and 96 <= expiry <= 98, f"remaining expiry after ~2 s offline: {expiry!r}")
back.expect_nothing(0.3)
back.disconnect()
publ.disconnect()
sub.disconnect()
done("v5 properties: round trip and expiry countdown")
