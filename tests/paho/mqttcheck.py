"""Shared by the paho-mqtt interoperability scripts (run by tests/interop_paho.rs).

Every script takes the broker's port as its only argument, exits 0 when all checks pass,
and exits non-zero with a message on stderr otherwise. A watchdog ends a script that
hangs, so the Rust test never waits forever.
"""

import os
import queue
import sys
import threading

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError as e:  # pragma: no cover - environment problem, not a test failure
    print(f"FAIL: paho-mqtt 2.x is required (scripts/test installs it: pip install 'paho-mqtt>=2,<3'): {e}",
          file=sys.stderr)
    sys.exit(3)

HOST = "127.0.0.1"
# Seconds to wait for any single expected event.
WAIT = 5.0


def port():
    if len(sys.argv) != 2:
        fail(f"usage: {sys.argv[0]} PORT")
    return int(sys.argv[1])


def fail(message):
    """Reports a failure and ends the process (also from paho's network thread)."""
    print(f"FAIL: {message}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def watchdog(seconds=30):
    """Ends the script if it has not finished after `seconds`."""
    timer = threading.Timer(seconds, lambda: fail(f"script did not finish within {seconds} s"))
    timer.daemon = True
    timer.start()


def properties(packet_type, **values):
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


class Client:
    """A paho client running its network loop in a thread, with its events in queues."""

    def __init__(self, client_id, protocol=mqtt.MQTTv5, clean=True, session_expiry=None, will=None):
        self.client_id = client_id
        self.protocol = protocol
        self.clean = clean
        self.session_expiry = session_expiry
        self.messages = queue.Queue()
        self.connacks = queue.Queue()
        self.subacks = {}
        self.lock = threading.Lock()
        kwargs = {}
        if protocol != mqtt.MQTTv5:
            kwargs["clean_session"] = clean
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs)
        if will is not None:
            self.paho.will_set(**will)
        self.paho.on_connect = self._on_connect
        self.paho.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.paho.on_subscribe = self._on_subscribe

    def _on_connect(self, _c, _u, flags, reason_code, props):
        self.connacks.put((flags, reason_code, props))

    def _on_subscribe(self, _c, _u, mid, reason_codes, _props):
        with self.lock:
            event = self.subacks.setdefault(mid, [threading.Event(), None])
        event[1] = reason_codes
        event[0].set()

    def connect(self):
        """Connects and returns the CONNACK's session present flag."""
        if self.protocol == mqtt.MQTTv5:
            props = None
            if self.session_expiry is not None:
                props = properties(PacketTypes.CONNECT, SessionExpiryInterval=self.session_expiry)
            self.paho.connect(HOST, port(), keepalive=30, clean_start=self.clean, properties=props)
        else:
            self.paho.connect(HOST, port(), keepalive=30)
        self.paho.loop_start()
        try:
            flags, reason_code, _props = self.connacks.get(timeout=WAIT)
        except queue.Empty:
            fail(f"{self.client_id}: no CONNACK")
        check(not reason_code.is_failure, f"{self.client_id}: CONNACK {reason_code}")
        return flags.session_present

    def subscribe(self, topic, qos):
        result, mid = self.paho.subscribe(topic, qos)
        check(result == mqtt.MQTT_ERR_SUCCESS, f"{self.client_id}: subscribe {topic}: {result}")
        with self.lock:
            event = self.subacks.setdefault(mid, [threading.Event(), None])
        check(event[0].wait(WAIT), f"{self.client_id}: no SUBACK for {topic}")
        codes = event[1]
        check(len(codes) == 1 and not codes[0].is_failure and codes[0].value == qos,
              f"{self.client_id}: SUBACK for {topic} at QoS {qos}: {[str(c) for c in codes]}")

    def publish(self, topic, payload, qos=0, retain=False, props=None):
        info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=props)
        check(info.rc == mqtt.MQTT_ERR_SUCCESS, f"{self.client_id}: publish to {topic}: {info.rc}")
        info.wait_for_publish(timeout=WAIT)
        check(info.is_published(), f"{self.client_id}: publish to {topic} (QoS {qos}) not completed")

    def expect(self, what):
        """The next message received."""
        try:
            return self.messages.get(timeout=WAIT)
        except queue.Empty:
            fail(f"{self.client_id}: no message ({what})")

    def expect_nothing(self, seconds=0.3):
        try:
            msg = self.messages.get(timeout=seconds)
        except queue.Empty:
            return
        fail(f"{self.client_id}: unexpected message on {msg.topic}: {msg.payload!r}")

    def disconnect(self):
        self.paho.disconnect()
        self.paho.loop_stop()

    def drop(self):
        """Ends the connection without DISCONNECT, as a network failure would."""
        self.paho.loop_stop()
        import socket
        sock = self.paho.socket()
        check(sock is not None, f"{self.client_id}: no socket to drop")
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()


PROTOCOLS = [("MQTTv311", mqtt.MQTTv311), ("MQTTv5", mqtt.MQTTv5)]


def done(message="ok"):
    print(message, flush=True)
    sys.stdout.flush()
    os._exit(0)
