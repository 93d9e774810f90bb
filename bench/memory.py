#!/usr/bin/env python3
"""Per-key Redis memory of a nurture database, for bench/memory.sh.

  memory.py snapshot PORT               -> JSON {key: [bytes, has_expiry]} on stdout
  memory.py compare BEFORE AFTER N PREFIX -> bytes per message, by kind, with and without expiry
"""
import json
import re
import socket
import sys


class Redis:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)))
        self.f = self.s.makefile("rb")

    def call(self, *args):
        out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (str(x).encode() for x in args))
        self.s.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode("utf-8", "replace")
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise ValueError(line)


def snapshot(port):
    r = Redis(port)
    keys, cursor = {}, "0"
    while True:
        cursor, batch = r.call("SCAN", cursor, "COUNT", 1000)
        for k in batch:
            keys[k] = [r.call("MEMORY", "USAGE", k, "SAMPLES", 0) or 0, r.call("PTTL", k) >= 0]
        if cursor == "0":
            break
    json.dump(keys, sys.stdout)


def kind(key, prefix):
    rest = key[len(prefix) + 1:] if key.startswith(prefix + ":") else key
    rest = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|[0-9A-Z]{26}", "ID", rest)
    rest = re.sub(r"\d{4}-\d{2}-\d{2}", "DATE", rest)
    parts = rest.split(":")
    return ":".join(parts[:2]) if parts[0] in ("jobs", "queue") else parts[0]


def compare(before, after, n, prefix):
    b, a, n = json.load(open(before)), json.load(open(after)), int(n)
    rows = {}
    for k, (size, expires) in a.items():
        grown = size - (b.get(k, [0, False])[0])
        if grown == 0:
            continue
        row = rows.setdefault((kind(k, prefix), expires), [0, 0])
        row[0] += grown
        row[1] += 1
    total = {True: 0, False: 0}
    print(f"{n} messages delivered; Redis bytes each, by key kind (MEMORY USAGE after - before):")
    for (k, expires), (grown, count) in sorted(rows.items(), key=lambda r: -r[1][0]):
        total[expires] += grown
        print(f"  {k:32} {'expires' if expires else 'no expiry':10} {grown / n:8.1f} B/msg  ({count} keys)")
    print(f"without expiry: {total[False] / n:.1f} B/msg; with expiry: {total[True] / n:.1f} B/msg; "
          f"total {(total[False] + total[True]) / n:.1f} B/msg")


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        snapshot(sys.argv[2])
    else:
        compare(*sys.argv[2:6])
