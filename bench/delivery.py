#!/usr/bin/env python3
"""The steps of bench/delivery.sh that need more than a shell: check a dump of delivered
messages, time the SMTP limit, time nurture's workers.

    delivery.py check DUMP_DIR CONTACTS.csv SUPPRESSED.txt   -> prints the mean message size
    delivery.py limit SINK_PID SINK_PORT N SIZE SESSIONS     -> prints msgs/s, sink CPU ms/msg
    delivery.py work SINK_PID REDIS_PORT PREFIX DATE N WORKERS -- NURTURE_COMMAND...
                  -> prints msgs/s, workers' CPU ms/msg, peak RSS, wall s, Redis and sink CPU ms/msg

CPU is counted per process from the kernel (/proc, rusage, Redis' INFO cpu). The ledger is
polled over one Redis connection kept open, so the watching costs the machine next to nothing
(a redis-cli process every 20 ms would have taken a tenth of a core from the run it measures).
"""
import csv
import email
import email.policy
import os
import socket
import resource
import signal
import subprocess
import sys
import time
from collections import Counter


def check(dump_dir, contacts_csv, suppressed_txt):
    """Every non-suppressed contact got exactly one message, none went to a suppressed one,
    and each is a compliant multipart/alternative message: the List-Unsubscribe link (with
    one-click) in both parts, the postal address in both parts, the contact's name."""
    contacts = {r["email"]: r for r in csv.DictReader(open(contacts_csv, encoding="utf-8"))}
    suppressed = {l.strip() for l in open(suppressed_txt) if l.strip()}
    seen, sizes, problems = Counter(), [], []
    for name in sorted(os.listdir(dump_dir)):
        raw = open(os.path.join(dump_dir, name), "rb").read()
        # smtp-sink's dump: envelope lines (X-Client-Addr, X-Rcpt-Args...), then the message.
        rcpts = [l.split(b":", 1)[1].strip().decode() for l in raw.split(b"\n") if l.startswith(b"X-Rcpt-Args:")]
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        to = msg["To"].addresses[0].addr_spec if msg["To"] else "?"
        seen[to] += 1
        sizes.append(len(raw))
        if to in suppressed:
            problems.append(f"sent to a suppressed address: {to}")
        c = contacts.get(to)
        if c is None:
            problems.append(f"unknown recipient {to}")
            continue
        link = (msg["List-Unsubscribe"] or "").split(",")[0].strip().strip("<>")
        if not link.startswith("http") or msg["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click":
            problems.append(f"{to}: List-Unsubscribe headers missing")
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        if msg.get_content_type() != "multipart/alternative" or text is None or html is None:
            problems.append(f"{to}: not multipart/alternative with text and HTML")
            continue
        t, h = text.get_content(), html.get_content()
        if link not in t or link.replace("&", "&amp;") not in h and link not in h:
            problems.append(f"{to}: the unsubscribe link is not in both parts")
        if "12 Main St" not in t or "12 Main St" not in h:
            problems.append(f"{to}: the postal address is not in both parts")
        if c["first_name"] not in str(msg["Subject"]):
            problems.append(f"{to}: no first name in the subject")
    expected = {e for e in contacts if e not in suppressed}
    for e in expected - set(seen):
        problems.append(f"never received: {e}")
    for e, k in seen.items():
        if k > 1:
            problems.append(f"received {k} times: {e}")
    if problems:
        sys.exit("check FAILED:\n  " + "\n  ".join(problems[:20]))
    print(int(sum(sizes) / max(len(sizes), 1)))
    print(f"check: {len(seen)} messages for {len(expected)} expected recipients "
          f"({len(suppressed & set(contacts))} suppressed), all compliant", file=sys.stderr)


def process_cpu_ms(pid):
    """User + system CPU of a running process, in ms."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class Redis:
    """One RESP connection, enough for HMGET and INFO."""
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", int(port)))
        self.buf = self.sock.makefile("rb")

    def call(self, *args):
        out = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        self.sock.sendall(out.encode())
        return self.reply()

    def reply(self):
        line = self.buf.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.buf.read(n + 2)[:-2].decode()
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        if kind == b"-":
            sys.exit(f"redis: {rest.decode()}")
        return rest.decode()

    def cpu_ms(self):
        info = dict(l.split(":", 1) for l in self.call("INFO", "cpu").splitlines() if ":" in l)
        return (float(info["used_cpu_user"]) + float(info["used_cpu_sys"])) * 1000


def limit(sink_pid, port, n, size, sessions):
    sink_cpu = process_cpu_ms(sink_pid)
    t = time.monotonic()
    subprocess.run(["/usr/sbin/smtp-source", "-4", "-d", "-s", sessions, "-m", n, "-l", size,
                    "-M", "bench.localhost", "-f", "bench@example.com", "-t", "sink@example.com",
                    f"127.0.0.1:{port}"], check=True)
    wall = time.monotonic() - t
    print(f"{int(n) / wall:.0f} {(process_cpu_ms(sink_pid) - sink_cpu) / int(n):.3f}")


def work(sink_pid, redis_port, prefix, date, n, workers, command):
    """Starts WORKERS `nurture work` processes on a filled queue and times them until the
    ledger counts every message sent or suppressed."""
    redis = Redis(redis_port)

    def done():
        out = redis.call("HMGET", f"{prefix}:stats:{date}", "sent", "suppressed")
        return sum(int(float(x)) for x in out if x is not None)
    redis_cpu, sink_cpu = redis.cpu_ms(), process_cpu_ms(sink_pid)
    t = time.monotonic()
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(int(workers))]
    while done() < int(n):
        if time.monotonic() - t > 600 or (any(p.poll() is not None for p in procs) and done() < int(n)):
            sys.exit(f"workers stopped or timed out at {done()} of {n}")
        time.sleep(0.02)
    wall = time.monotonic() - t
    redis_cpu, sink_cpu = redis.cpu_ms() - redis_cpu, process_cpu_ms(sink_pid) - sink_cpu
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait()
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = (r.ru_utime + r.ru_stime) * 1000 / int(n)
    print(f"{int(n) / wall:.0f} {cpu_ms:.3f} {r.ru_maxrss // 1024} {wall:.2f} "
          f"{redis_cpu / int(n):.3f} {sink_cpu / int(n):.3f}")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "check":
        check(*sys.argv[2:5])
    elif what == "limit":
        limit(*sys.argv[2:7])
    elif what == "work":
        sep = sys.argv.index("--")
        work(*sys.argv[2:sep], sys.argv[sep + 1:])
