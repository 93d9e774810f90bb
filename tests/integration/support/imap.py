#!/usr/bin/env python3
"""An IMAP client for nurture's integration tests (Python's imaplib, independent of nurture's).

Usage:
  imap.py PORT append FOLDER FILE...   put each file in FOLDER as a relay delivers mail (unread)
  imap.py PORT list FOLDER             print JSON [{"uid", "flags", "subject", "message_id"}]
Logs in as bounces / secret on 127.0.0.1.
"""
import email
import imaplib
import json
import sys

port, action, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3]
m = imaplib.IMAP4("127.0.0.1", port)
m.login("bounces", "secret")
if action == "append":
    for path in sys.argv[4:]:
        with open(path, "rb") as f:
            raw = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        typ, data = m.append(folder, None, None, raw)
        assert typ == "OK", data
elif action == "list":
    typ, _ = m.select(folder, readonly=True)
    out = []
    if typ == "OK":
        typ, data = m.uid("SEARCH", None, "ALL")
        for uid in data[0].split():
            typ, parts = m.uid("FETCH", uid, "(FLAGS BODY.PEEK[HEADER])")
            flags = imaplib.ParseFlags(parts[0][0]) if parts and parts[0] else ()
            headers = email.message_from_bytes(parts[0][1])
            out.append({
                "uid": int(uid),
                "flags": [f.decode() for f in flags],
                "subject": str(headers.get("Subject", "")),
                "message_id": str(headers.get("Message-ID", "")),
            })
    print(json.dumps(out))
m.logout()
