#!/usr/bin/env bash
# nurture benchmark: import, expansion + enqueue at N contacts, each against its floor, then a
# night of N_DELIVER more emails at N contacts delivered to smtp-sink by `run`, against its floor
# (the expansion alone + the messages at the SMTP limit, both measured here).
#
#   bench/run.sh [N_EXPAND] [N_DELIVER]      (defaults: 100000 20000)
#   NURTURE_BIN=/path/to/nurture bench/run.sh ...   (another build, same data)
#
# Needs Redis on 127.0.0.1:6379 and postfix's smtp-sink. Uses its own Redis prefix and deletes
# it afterwards. Prints one line per figure; BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
D=${2:-20000}
DATE=2026-11-20
WORK=$(mktemp -d /tmp/nurture-bench.XXXXXX)
chmod 755 "$WORK"
PREFIX="bench-$$"
# NURTURE_BIN runs another build (an older commit, to compare on the same machine and data).
if [ -z "${NURTURE_BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${NURTURE_BIN:-$PWD/target/release/nurture}"
SINK_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cleanup() {
  [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null || true
  redis-cli --scan --pattern "$PREFIX:*" | xargs -r -n 1000 redis-cli del >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

cp -r jobs templates "$WORK/"
cp bench/blast.toml "$WORK/jobs/"
cp bench/blast.email.hbs "$WORK/templates/bench/" 2>/dev/null || { mkdir -p "$WORK/templates/bench"; cp bench/blast.email.hbs "$WORK/templates/bench/"; }
cat > "$WORK/nurture.toml" <<TOML
[redis]
prefix = "$PREFIX"
[smtp]
url = "smtp://127.0.0.1:$SINK_PORT"
pool_size = 64
[sms]
provider = "file"
outbox = "$WORK/sms.jsonl"
[unsubscribe]
base_url = "https://nurture.example.com"
secret = "bench-secret"
[privacy]
pepper = "bench-pepper"
[delivery]
concurrency = 64
TOML

# Wall time and peak RSS (MiB) of a command; its stdout goes to stderr.
MEASURE="$PWD/bench/measure.py"
measure() { python3 "$MEASURE" "$@"; }

cd "$WORK"
echo "== $N contacts (spread over a year, three plans)"
python3 "$OLDPWD/bench/gen_contacts.py" "$N" contacts.csv spread "$DATE"
read -r secs rss _ < <(measure "$BIN" import contacts.csv)
echo "import: ${secs}s ($(python3 -c "print(int($N/$secs))") contacts/s), peak RSS ${rss} MiB"
# The floor of import: the very records it wrote, loaded by `redis-cli --pipe` (timed below).
KEYS=$(python3 "$OLDPWD/bench/floor.py" dump 6379 "$PREFIX" "$WORK/import.resp")
read -r secs rss _ < <(measure "$BIN" run --date "$DATE" --enqueue-only --json 2>"$WORK/run.json")
echo "expand+enqueue (first run, no last run): ${secs}s wall, peak RSS ${rss} MiB; $(python3 -c "import json,re;t=open('$WORK/run.json').read();d=json.loads(t[t.index('{'):]);print(f\"expand_secs={d['expand_secs']:.2f} due={d['due']} queued={d['queued']} agenda={d['agenda']} missed={d['missed']}\")")"
NEXT=$(date -d "$DATE + 1 day" +%F)
read -r secs rss _ < <(measure "$BIN" run --date "$NEXT" --enqueue-only --json 2>"$WORK/run2.json")
echo "next night (steady state): ${secs}s wall, peak RSS ${rss} MiB; $(python3 -c "import json;t=open('$WORK/run2.json').read();d=json.loads(t[t.index('{'):]);print(f\"expand_secs={d['expand_secs']:.2f} due={d['due']} queued={d['queued']} agenda={d['agenda']} missed={d['missed']}\")")"
# The floor of a night's expansion: one pass reading and decoding every contact (`lint`'s
# census of the columns the templates use, with the workspace loaded as a run loads it).
read -r secs rss _ < <(measure sh -c "'$BIN' lint --json >/dev/null 2>&1; true")
echo "floor of the expansion: one pass reading every contact (lint's census): ${secs}s, peak RSS ${rss} MiB"
redis-cli --scan --pattern "$PREFIX:*" | xargs -r -n 1000 redis-cli del >/dev/null
# Loading the import's records back leaves the contacts as the import left them, without the
# nights above: the night below is a first night at N contacts.
read -r secs _ < <(measure --stdin "$WORK/import.resp" redis-cli --pipe 2>/dev/null)
echo "floor of import: redis-cli --pipe of the $KEYS keys import wrote: ${secs}s"

echo "== a night of $D more emails (~5 KB HTML + text) at $N contacts, to smtp-sink on 127.0.0.1:$SINK_PORT"
/usr/sbin/smtp-sink -u nobody -c "127.0.0.1:$SINK_PORT" 1024 >/dev/null 2>&1 &
SINK_PID=$!
sleep 0.3
python3 "$OLDPWD/bench/gen_contacts.py" "$D" blast.csv blast "$DATE" blast
"$BIN" import blast.csv >/dev/null 2>&1 || true
# Its floor: the night's expansion alone (`--enqueue-only`: read, expand, queue, write), plus
# its messages at the SMTP limit of this machine (smtp-source -> smtp-sink, 8 sessions, the
# size of the blast's messages), both measured here; then the same state again for the night.
read -r EXPAND _ < <(measure "$BIN" run --date "$DATE" --enqueue-only --json 2>/dev/null)
redis-cli --scan --pattern "$PREFIX:*" | xargs -r -n 1000 redis-cli del >/dev/null
redis-cli --pipe < "$WORK/import.resp" >/dev/null 2>&1
"$BIN" import blast.csv >/dev/null 2>&1 || true
read -r LIMIT _ < <(python3 "$OLDPWD/bench/delivery.py" limit "$SINK_PID" "$SINK_PORT" "$D" 5200 8)
read -r secs rss _ < <(measure "$BIN" run --date "$DATE" --json 2>"$WORK/deliver.json")
python3 - "$WORK/deliver.json" "$secs" "$rss" "$EXPAND" "$LIMIT" "$D" <<'PY'
import json, sys
t = open(sys.argv[1]).read()
d = json.loads(t[t.index("{"):])
wall, rss, expand, limit, blast = float(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
messages = d["sent"] + d["suppressed"]
floor = expand + messages / limit
print(f"the night: due={d['due']} sent={d['sent']} failed={d['failed']} dead={d['dead']} (the blast's {blast} and the "
      f"first night of the others) from start to exit {wall:.2f}s, peak RSS {rss} MiB; delivering "
      f"{d['sent'] / d['deliver_secs']:.0f} messages/s over {d['deliver_secs']:.2f}s, beside the expansion ({d['expand_secs']:.2f}s)")
print(f"floor of the night: expansion alone (--enqueue-only) {expand:.2f}s + {messages} messages at the limit "
      f"({limit:.0f}/s) {messages / limit:.2f}s = {floor:.2f}s; the night took {wall / floor:.2f} x that (goal <= 1.3)")
PY
