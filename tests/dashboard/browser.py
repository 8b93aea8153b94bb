#!/usr/bin/env python3
"""The web dashboard in a real browser (Debian chromium + chromedriver, driven by Selenium),
against a running comqtt with MQTT clients from paho-mqtt.

usage: browser.py HTTP_ADDR MQTT_PORT ARTEFACT_DIR
Users (made by the Rust test with `comqtt dashboard add-user`): admin/admin-pass-1 (admin),
watcher/watcher-pass-1 (viewer), locky/locky-pass-1 (viewer).

Screenshots of each page go to ARTEFACT_DIR (kept by the test when this fails). Exits non-zero
with a message on the first failure."""
import json
import sys
import threading
import time
import urllib.request

import paho.mqtt.client as mqtt
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

HTTP, PORT, ART = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BASE = f"http://{HTTP}/dashboard/"
WAIT = 15

options = Options()
options.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"]:
    options.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
shots = 0


def shot(name):
    global shots
    shots += 1
    driver.save_screenshot(f"{ART}/{shots:02d}-{name}.png")


def fail(message):
    shot("failure")
    print(f"FAIL: {message}", file=sys.stderr)
    try:
        print(f"page text: {driver.find_element(By.TAG_NAME, 'body').text}", file=sys.stderr)
    except Exception:
        pass
    driver.quit()
    sys.exit(1)


def until(what, f, wait=WAIT):
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            v = f()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.1)
    fail(f"timed out waiting for {what}")


def visible(css):
    es = driver.find_elements(By.CSS_SELECTOR, css)
    return es[0] if es and es[0].is_displayed() else None


def text_of(css):
    e = visible(css)
    return e.text if e else ""


def api_get(path):
    with urllib.request.urlopen(f"http://{HTTP}{path}", timeout=5) as r:
        return json.loads(r.read())


def login(user, password):
    until("the login form", lambda: visible("#login-user"))
    u, p = driver.find_element(By.ID, "login-user"), driver.find_element(By.ID, "login-password")
    u.clear()
    u.send_keys(user)
    p.clear()
    p.send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def logout():
    driver.find_element(By.ID, "logout").click()
    until("the login form after logout", lambda: visible("#login-form"))


def go(page):
    driver.execute_script(f"location.hash = '#{page}'")
    until(f"page {page}", lambda: visible(f"#page-{page}"))


def mqtt_client(client_id):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.gone = threading.Event()
    c.reason = None
    c.got = []

    def on_disconnect(client, userdata, flags, reason, properties):
        c.reason = reason
        c.gone.set()

    c.on_disconnect = on_disconnect
    c.on_message = lambda client, userdata, m: c.got.append((m.topic, m.payload))
    c.connect("127.0.0.1", PORT)
    c.loop_start()
    until(f"{client_id} connected", lambda: c.is_connected())
    return c


try:
    # A wrong password is refused and said so.
    driver.get(BASE)
    login("admin", "not-the-password")
    until("the refusal", lambda: "wrong user name or password" in text_of("#login-error"))
    shot("login-refused")

    login("admin", "admin-pass-1")
    until("the app", lambda: visible("#app"))
    until("who is logged in", lambda: "admin (admin)" in text_of("#who"))

    # Overview: figures and live charts.
    until("the cards", lambda: "Connected clients" in text_of("#cards"))
    until("a chart line", lambda: driver.find_elements(By.CSS_SELECTOR, "#chart-in polyline")
          and len(driver.execute_script("return state.history")) >= 1)
    until("the cluster table", lambda: text_of("#cluster-overall tbody"))
    shot("overview")

    # A client connects, shows up, is kicked (DISCONNECT 0x98).
    device = mqtt_client("dash-device-1")
    go("clients")
    def device_row():
        driver.find_element(By.CSS_SELECTOR, "#clients-search button").click()
        return visible('tr[data-client="dash-device-1"]')
    until("the client in the list", device_row, wait=WAIT)
    driver.find_element(By.ID, "clients-query").clear()
    driver.find_element(By.ID, "clients-query").send_keys("dash-device")
    driver.find_element(By.CSS_SELECTOR, "#clients-search button").click()
    until("the search result", lambda: "1 clients" in text_of("#clients-page"))
    visible('tr[data-client="dash-device-1"] td').click()
    until("the client's detail", lambda: "Client dash-device-1" in text_of("#client-detail"))
    shot("clients")
    visible('button[data-kick="dash-device-1"]').click()
    if not device.gone.wait(WAIT):
        fail("the kicked client was not disconnected")
    if int(device.reason.value) != 0x98:
        fail(f"kicked with reason {device.reason}, not 0x98")
    device.loop_stop()

    # A retained message is seen and deleted.
    publisher = mqtt_client("dash-publisher")
    publisher.publish("dash/retained/one", b"hello dashboard", qos=1, retain=True).wait_for_publish(WAIT)
    go("retained")
    def retained_row():
        driver.execute_script("run(retained)")
        return visible('tr[data-topic="dash/retained/one"]')
    until("the retained message", retained_row)
    if "hello dashboard" not in text_of('tr[data-topic="dash/retained/one"]'):
        fail("the retained payload is not shown")
    shot("retained")
    visible('button[data-delete="dash/retained/one"]').click()
    until("the row gone", lambda: not driver.find_elements(By.CSS_SELECTOR, 'tr[data-topic="dash/retained/one"]'))
    if any(m["topic"] == "dash/retained/one" for m in api_get("/api/v1/mqtt/retained")["items"]):
        fail("the retained message is still there after Delete")

    # Publish from the page reaches a subscriber.
    listener = mqtt_client("dash-listener")
    listener.subscribe("dash/said", qos=1)
    go("publish")
    driver.find_element(By.ID, "publish-topic").send_keys("dash/said")
    driver.find_element(By.ID, "publish-payload").send_keys("from the page")
    def published():
        driver.find_element(By.ID, "publish-submit").click()
        deadline = time.time() + 1
        while time.time() < deadline and not listener.got:
            time.sleep(0.05)
        return listener.got
    until("the published message", published)
    if listener.got[0] != ("dash/said", b"from the page"):
        fail(f"got {listener.got[0]}")
    shot("publish")

    # Subscriptions, cluster, blacklist.
    go("subscriptions")
    until("the listener's subscription", lambda: "dash/said" in text_of("#subscriptions-table"))
    shot("subscriptions")
    go("cluster")
    until("this node", lambda: "(this node)" in text_of("#nodes-table"))
    until("the raft state", lambda: text_of("#raft"))
    shot("cluster")
    go("blacklist")
    driver.find_element(By.ID, "ban-id").send_keys("dash-evil")
    driver.find_element(By.CSS_SELECTOR, "#ban-form button").click()
    until("the banned id", lambda: visible('button[data-unban="dash-evil"]'))
    if "dash-evil" not in api_get("/api/v1/mqtt/blacklist"):
        fail("the ban did not reach the broker")
    shot("blacklist")
    visible('button[data-unban="dash-evil"]').click()
    until("the ban lifted", lambda: not driver.find_elements(By.CSS_SELECTOR, 'button[data-unban="dash-evil"]'))
    logout()

    # A viewer sees no action, and the API refuses what the page cannot offer.
    kept = mqtt_client("dash-kept")
    login("watcher", "watcher-pass-1")
    until("the viewer", lambda: "watcher (viewer)" in text_of("#who"))
    go("clients")
    until("the client list", lambda: "clients" in text_of("#clients-page"))
    driver.execute_script("run(clients)")
    until("the kept client", lambda: visible('tr[data-client="dash-kept"]'))
    if visible('button[data-kick="dash-kept"]'):
        fail("a viewer is offered Kick")
    status = driver.execute_async_script(
        "const done = arguments[0];"
        "fetch('/api/v1/mqtt/clients/dash-kept/disconnect', {method: 'POST', credentials: 'same-origin',"
        " headers: {'X-Comqtt-Csrf': state.me.csrf}}).then(r => done(r.status));")
    if status not in (401, 403):
        fail(f"a viewer's kick through the API answered {status}")
    if kept.gone.is_set():
        fail("a viewer's request disconnected a client")
    shot("viewer")

    # The viewer changes their password: the old one stops working.
    go("profile")
    driver.find_element(By.ID, "password-current").send_keys("watcher-pass-1")
    driver.find_element(By.ID, "password-new").send_keys("watcher-pass-2")
    driver.find_element(By.CSS_SELECTOR, "#password-form button").click()
    until("the change confirmed", lambda: "password changed" in text_of("#toast"))
    logout()
    login("watcher", "watcher-pass-1")
    until("the old password refused", lambda: "wrong user name or password" in text_of("#login-error"))
    login("watcher", "watcher-pass-2")
    until("the new password", lambda: "watcher (viewer)" in text_of("#who"))
    logout()

    # Lockout after repeated failures, even for the right password then.
    for i in range(5):
        login("locky", f"wrong-{i}")
        until(f"refusal {i}", lambda: text_of("#login-error"))
        if i < 4:
            driver.execute_script("document.getElementById('login-error').textContent = ''")
    until("the lockout", lambda: "locked" in text_of("#login-error"))
    driver.execute_script("document.getElementById('login-error').textContent = ''")
    login("locky", "locky-pass-1")
    until("the lockout holding", lambda: "locked" in text_of("#login-error"))
    shot("lockout")

    # At a phone's width every page fits without scrolling sideways.
    driver.set_window_size(390, 844)
    login("admin", "admin-pass-1")
    until("the app", lambda: visible("#app"))
    if not visible("#menu-toggle"):
        fail("no menu button at a phone's width")
    for page in ["overview", "clients", "subscriptions", "retained", "cluster", "publish", "blacklist", "profile"]:
        go(page)
        # Sampled while the page's data arrives: it must fit at every sample.
        for _ in range(5):
            width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            if width[0] > width[1] + 1:
                fail(f"page {page} is {width[0]} px wide at a {width[1]} px screen")
            time.sleep(0.1)
        shot(f"phone-{page}")
    driver.find_element(By.ID, "menu-toggle").click()
    until("the menu open", lambda: visible('nav a[data-page="clients"]'))
    shot("phone-menu")
    print(f"dashboard: {shots} screenshots, every check passed")
finally:
    try:
        driver.quit()
    except Exception:
        pass
