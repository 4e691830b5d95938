#!/usr/bin/env python3
"""The README's run command, end to end: the proxy on the demo config
(maildir delivery, local SQLite), a message from smtplib, the incident
through the API with the seed's query, SIGTERM, exit 0.

Usage: python3 .ci/demo_proxy.py target/release/sluice-proxy
"""
import json, os, shutil, signal, smtplib, socket, subprocess, sys, time, urllib.parse, urllib.request

binary = sys.argv[1]
demo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "demo")
data = os.path.join(demo, "sluice-data")
shutil.rmtree(data, ignore_errors=True)


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} never opened")


proxy = subprocess.Popen([binary, "--config", os.path.join(demo, "sluice.toml")])
try:
    wait_port(2525)
    wait_port(8025)
    with open(os.path.join(demo, "messages", "hold-partner.eml"), "rb") as f:
        message = f.read()
    with smtplib.SMTP("127.0.0.1", 2525) as s:
        s.sendmail("alice@example.com", ["bob@partner.org"], message)
    delivered = os.listdir(os.path.join(data, "outbox", "new"))
    assert len(delivered) == 1, delivered
    with open(os.path.join(data, "outbox", "new", delivered[0]), "rb") as f:
        assert b"X-Sluice-Hold: customer-entitlement" in f.read()
    query = urllib.parse.urlencode({"query": "(policy in ['Customer email Hold'])", "timeperiod": 3600})
    request = urllib.request.Request(
        f"http://127.0.0.1:8025/api/v1/incidents?{query}",
        headers={"Authorization": "Bearer change-me"},
    )
    for _ in range(50):
        with urllib.request.urlopen(request) as r:
            body = json.load(r)
        if body["data"]:
            break
        time.sleep(0.1)
    assert body["status"] == "success" and len(body["data"]) == 1, body
    assert body["data"][0]["action"] == "add-header", body
    print("demo proxy: delivered to the outbox, incident", body["data"][0]["id"], "found through the API")
finally:
    proxy.send_signal(signal.SIGTERM)
    code = proxy.wait(timeout=30)
shutil.rmtree(data, ignore_errors=True)
sys.exit(0 if code == 0 else f"sluice-proxy exited {code} after SIGTERM")
