#!/usr/bin/env bash
# nurture benchmark: import, expansion + enqueue at N contacts, end-to-end delivery to smtp-sink.
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
read -r secs _ < <(measure --stdin "$WORK/import.resp" redis-cli --pipe 2>/dev/null)
echo "floor of import: redis-cli --pipe of the $KEYS keys import wrote: ${secs}s"
redis-cli --scan --pattern "$PREFIX:*" | xargs -r -n 1000 redis-cli del >/dev/null

echo "== delivery: $D emails (~5 KB HTML + text) to smtp-sink on 127.0.0.1:$SINK_PORT"
/usr/sbin/smtp-sink -u nobody -c "127.0.0.1:$SINK_PORT" 1024 >/dev/null 2>&1 &
SINK_PID=$!
sleep 0.3
python3 "$OLDPWD/bench/gen_contacts.py" "$D" blast.csv blast "$DATE"
"$BIN" import blast.csv >/dev/null 2>&1 || true
read -r secs rss _ < <(measure "$BIN" run --date "$DATE" --json 2>"$WORK/deliver.json")
python3 - "$WORK/deliver.json" "$secs" "$rss" <<'PY'
import json, sys
t = open(sys.argv[1]).read()
d = json.loads(t[t.index("{"):])
print(f"deliver: sent={d['sent']} failed={d['failed']} dead={d['dead']} in {d['deliver_secs']:.2f}s = {d['sent']/d['deliver_secs']:.0f} emails/s "
      f"(whole run {sys.argv[2]}s incl. expand {d['expand_secs']:.2f}s and drain check), peak RSS {sys.argv[3]} MiB")
PY
