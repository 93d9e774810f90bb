#!/usr/bin/env python3
"""The floor of `import` for bench/run.sh: every key under a prefix written out as the Redis
protocol that recreates it (HSET per hash field, SET, RPUSH, SADD, ZADD), so that
`redis-cli --pipe` can load the very records import wrote — the fastest they can go in.

  floor.py dump PORT PREFIX OUT.resp
"""
import socket
import sys


class Redis:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)))
        self.f = self.s.makefile("rb")

    def call(self, *args):
        self.s.sendall(command(*args))
        return self.read()

    def read(self):
        line = self.f.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise ValueError(line)


def command(*args):
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def dump(port, prefix, out):
    r = Redis(port)
    keys, cursor = [], b"0"
    while True:
        cursor, batch = r.call("SCAN", cursor, "MATCH", prefix + ":*", "COUNT", 1000)
        keys += batch
        if cursor == b"0":
            break
    with open(out, "wb") as f:
        for key in keys:
            kind = r.call("TYPE", key)
            if kind == b"hash":
                c = b"0"
                while True:
                    c, fields = r.call("HSCAN", key, c, "COUNT", 1000)
                    for i in range(0, len(fields), 2):
                        f.write(command("HSET", key, fields[i], fields[i + 1]))
                    if c == b"0":
                        break
            elif kind == b"string":
                f.write(command("SET", key, r.call("GET", key)))
            elif kind == b"list":
                for item in r.call("LRANGE", key, 0, -1):
                    f.write(command("RPUSH", key, item))
            elif kind == b"set":
                for item in r.call("SMEMBERS", key):
                    f.write(command("SADD", key, item))
            elif kind == b"zset":
                items = r.call("ZRANGE", key, 0, -1, "WITHSCORES")
                for i in range(0, len(items), 2):
                    f.write(command("ZADD", key, items[i + 1], items[i]))
    print(len(keys))


if __name__ == "__main__":
    dump(*sys.argv[2:5])
