#!/usr/bin/env bash
# nurture benchmark: the nightly clean-up at scale. A private redis-server is filled with
# N ledger marks and N idempotency keys (half of each older than the retention horizon), then
# `run --enqueue-only` night after night sweeps its share of the database (a seventh a night,
# going on where the last night stopped) until the old half is gone; a rerun of the same date
# skips the sweep (lock). Prints the time of each night, how many keys went, and the worst
# PING latency seen meanwhile.
#
#   bench/vacuum.sh [N]          (default 1000000)
#   NURTURE_BIN=/path/to/nurture bench/vacuum.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORK_NAME=vacuum PREFIX=vac . bench/private_redis.sh

# N marks and N idempotency keys; even ones fall on 2026-09-01 (older than the 35-day
# horizon of 2026-11-20), odd ones on 2026-11-19.
python3 - "$N" <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import sys
n = int(sys.argv[1])
out = sys.stdout
def cmd(*a):
    out.write("*%d\r\n" % len(a))
    for x in a:
        out.write("$%d\r\n%s\r\n" % (len(x.encode()), x))
for i in range(n):
    day = "2026-09-01" if i % 2 == 0 else "2026-11-19"
    key = "c%d@example.com|33-touch|t%d|%s" % (i, i % 33, day)
    cmd("SET", "vac:delivery:" + key, "sent:1763600000")
    cmd("SET", "vac:jobs:idempotency:" + key, "01JABCDEFGHJKMNPQRSTVWXYZ0")
PY
echo "keys before: $(redis-cli -p "$PORT" dbsize)"

# The worst PING round trip while a command runs (Redis is single-threaded: a long script
# would block everyone else for its whole length).
measure() {
  python3 - "$PORT" "$@" <<'PY'
import json, socket, subprocess, sys, threading, time
port, argv = int(sys.argv[1]), sys.argv[2:]
worst, stop = [0.0], threading.Event()
def probe():
    s = socket.create_connection(("127.0.0.1", port))
    while not stop.is_set():
        t = time.monotonic(); s.sendall(b"PING\r\n"); s.recv(64)
        worst[0] = max(worst[0], time.monotonic() - t); time.sleep(0.001)
th = threading.Thread(target=probe); th.start()
t = time.monotonic()
p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
secs = time.monotonic() - t
stop.set(); th.join()
s = json.loads(p.stdout)
print(f"wall {secs:.2f} s, vacuum_secs {s['vacuum_secs']:.2f}, removed {s['vacuumed_marks']}, worst PING {worst[0]*1000:.1f} ms")
PY
}
cd "$WORK"
day=2026-11-20
echo "first run of the date:  $(measure "$BIN" run --date $day --enqueue-only --json)"
echo "rerun of the same date: $(measure "$BIN" run --date $day --enqueue-only --json)"
# The next nights go on with the sweep until every old key is gone (a week at most).
for night in 1 2 3 4 5 6 7; do
  [ "$(redis-cli -p "$PORT" dbsize)" -le $((N + 20)) ] && break
  day=$(date -d "$day + 1 day" +%F)
  echo "night $((night + 1)) ($day): $(measure "$BIN" run --date $day --enqueue-only --json), keys left $(redis-cli -p "$PORT" dbsize)"
done
left=$(redis-cli -p "$PORT" dbsize)
if [ "$left" -gt $((N + 20)) ]; then
  echo "FAILED: $((left - N)) old keys still there after a week of nights" >&2
  exit 1
fi
