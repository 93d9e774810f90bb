#!/usr/bin/env python3
"""A CRM's webhook endpoint, for nurture's integration tests.

Usage: webhook_receiver.py PORT_FILE LOG_FILE SECRET
Binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and appends every POST it gets to
LOG_FILE as one JSON object per line: the webhook-id, the event (type, data), the HTTP status it
answered, and whether the Standard Webhooks signature verified — computed here from the spec
(HMAC-SHA256 over "id.timestamp.body" with the base64 key after "whsec_", compared in constant
time; the timestamp within 5 minutes), independently of nurture's code.
While a file LOG_FILE + ".fail" exists, every POST is answered 500 (and logged as such).
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file, secret = sys.argv[1], sys.argv[2], sys.argv[3]
key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
lock = threading.Lock()


def verified(headers, body):
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    given = headers.get("webhook-signature", "")
    if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
        return False
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    return any(
        part.startswith("v1,") and hmac.compare_digest(part[3:], expected) for part in given.split(" ")
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = 500 if os.path.exists(log_file + ".fail") else 204
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        record = {
            "id": self.headers.get("webhook-id"),
            "valid": verified(self.headers, body),
            "status": status,
            "event": event,
            "content_type": self.headers.get("Content-Type"),
        }
        with lock, open(log_file, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
