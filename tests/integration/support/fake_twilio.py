#!/usr/bin/env python3
"""A stand-in for Twilio's Messages API, for nurture's integration tests.

Usage: fake_twilio.py PORT_FILE LOG_FILE
Binds 127.0.0.1 on a free port, writes the port to PORT_FILE, and appends every request it
receives to LOG_FILE as one JSON object per line. Behaviour by destination number:
  ends in 0429 -> 429 the first 2 times, then 201   (rate limited: must be retried)
  ends in 0400 -> 400 with Twilio error 21610         (unsubscribed: permanent, suppress)
  ends in 0500 -> 500 always                           (server error: retried, then dead)
  otherwise    -> 201 with a message sid
GET .../Accounts/SID.json (the startup check) -> 200, or 401 when the password is "wrong-token".
"""
import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

port_file, log_file = sys.argv[1], sys.argv[2]
lock = threading.Lock()
seen = {}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def respond(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        password = base64.b64decode(auth[6:]).decode().split(":", 1)[-1] if auth.startswith("Basic ") else ""
        if "/Accounts/" in self.path and self.path.endswith(".json") and password != "wrong-token":
            status, body = 200, {"sid": self.path.rsplit("/", 1)[-1][:-5], "status": "active"}
        else:
            status, body = 401, {"code": 20003, "message": "Authenticate"}
        self.respond(status, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode("utf-8")
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        auth = self.headers.get("Authorization", "")
        user = ""
        if auth.startswith("Basic "):
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        to = form.get("To", "")
        with lock:
            seen[to] = seen.get(to, 0) + 1
            count = seen[to]
            if to.endswith("0429") and count <= 2:
                status, body = 429, {"code": 20429, "message": "Too Many Requests"}
            elif to.endswith("0400"):
                status, body = 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}
            elif to.endswith("0401"):
                status, body = 401, {"code": 20003, "message": "Authenticate"}
            elif to.endswith("0500"):
                status, body = 500, {"code": 20500, "message": "Internal Server Error"}
            else:
                status, body = 201, {"sid": "SM%032d" % sum(seen.values()), "status": "queued"}
            with open(log_file, "a", encoding="utf-8") as f:
                f.write(json.dumps({"path": self.path, "user": user, "form": form, "status": status}, ensure_ascii=False) + "\n")
        if to.endswith("0408"):
            # Accepted (logged above), but the answer comes after the client's timeout.
            import time
            time.sleep(3)
        self.respond(status, body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
