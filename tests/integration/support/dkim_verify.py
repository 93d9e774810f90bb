#!/usr/bin/env python3
"""Verifies the DKIM signature of a message with dkimpy (an independent implementation).

Usage: dkim_verify.py MESSAGE_FILE PUBLIC_KEY_BASE64 [rsa|ed25519]
The DNS lookup of the selector is answered with PUBLIC_KEY_BASE64 (k=rsa by default; Ed25519
needs PyNaCl). Exit 0 when valid.
"""
import sys

import dkim

raw = open(sys.argv[1], "rb").read()
# smtp-sink prepends its own trace headers (unsigned: allowed); normalize line endings to CRLF.
raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
kind = sys.argv[3] if len(sys.argv) > 3 else "rsa"
record = b"v=DKIM1; k=" + kind.encode() + b"; p=" + sys.argv[2].encode()


def dns(name, timeout=5):
    return record


ok = dkim.verify(raw, dnsfunc=dns)
sig = [l for l in raw.split(b"\r\n") if l.lower().startswith(b"dkim-signature")]
print("valid" if ok else "INVALID", sig[0][:200].decode() if sig else "no signature")
sys.exit(0 if ok else 1)
