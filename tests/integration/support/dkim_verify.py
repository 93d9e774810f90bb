#!/usr/bin/env python3
"""Verifies every DKIM signature of a message with dkimpy (an independent implementation).

Usage: dkim_verify.py MESSAGE_FILE SELECTOR=KIND:PUBLIC_KEY_BASE64...
The DNS lookup of each selector is answered with its public key (KIND rsa or ed25519; Ed25519
needs PyNaCl). Exit 0 when the message has one signature per selector given and each is valid.
"""
import sys

import dkim

raw = open(sys.argv[1], "rb").read()
# smtp-sink prepends its own trace headers (unsigned: allowed); normalize line endings to CRLF.
raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
records = {}
for arg in sys.argv[2:]:
    selector, rest = arg.split("=", 1)
    kind, public = rest.split(":", 1)
    records[selector.encode()] = b"v=DKIM1; k=" + kind.encode() + b"; p=" + public.encode()


def dns(name, timeout=5):
    return records.get(name.split(b".", 1)[0], b"")


signatures = [l for l in raw.split(b"\r\n") if l.lower().startswith(b"dkim-signature")]
checker = dkim.DKIM(raw)
results = [checker.verify(idx=i, dnsfunc=dns) for i in range(len(signatures))]
for ok, sig in zip(results, signatures):
    print("valid" if ok else "INVALID", sig[:200].decode())
sys.exit(0 if len(signatures) == len(records) and all(results) else 1)
