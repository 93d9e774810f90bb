#!/usr/bin/env bash
# nurture benchmark (issue 13): end-to-end email delivery against the SMTP limit of this machine,
# both measured in one invocation on the same message size, with every message checked.
#
#   bench/delivery.sh [N] [WORKERS...]     (defaults: 20000 1; e.g. `bench/delivery.sh 20000 1 2 4`)
#   NURTURE_BIN=target/debug/nurture SMOKE=1 bench/delivery.sh 300     (CI: small, checked, no claims)
#   DKIM=rsa bench/delivery.sh 20000      (or DKIM=ed25519: every message signed with a fresh key)
#   ENGINE=run bench/delivery.sh 20000 1  (the queue drained by `nurture run`, the nightly command,
#                                          instead of `nurture work`)
#   PIN=1 bench/delivery.sh 20000 1       (smtp-sink on core 1; the sender — smtp-source, or
#                                          nurture and its Redis — on core 0)
#   NURTURE_THREADS=1 NURTURE_CONCURRENCY=64 NURTURE_POOL=64 bench/delivery.sh   (each `work`
#        process's [delivery] threads, concurrency and [smtp] pool_size; defaults: 0 = one lane
#        per core, as nurture's own default, 128, 32)
#
# 1. check: 200 contacts (2 % suppressed) through `nurture run` into a dumping smtp-sink; every
#    message is checked (one per recipient, none to the suppressed, multipart/alternative, the
#    List-Unsubscribe link in both parts, one-click, the postal address in both parts) and the
#    mean size is taken for the limit.
# 2. limit: postfix's smtp-source -> smtp-sink, 8 sessions, connection reuse, N messages of that size.
# 3. nurture: N contacts imported and queued (untimed: `run --enqueue-only`), then WORKERS
#    `nurture work` processes timed until the ledger counts every message sent or suppressed.
# A private redis-server and smtp-sink on free ports; everything shares this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
shift || true
WORKER_COUNTS=${*:-1}
DATE=2026-11-20
NOW=2026-11-20T12:00:00Z
THREADS=${NURTURE_THREADS:-0} CONCURRENCY=${NURTURE_CONCURRENCY:-128} POOL=${NURTURE_POOL:-32}
WORK_NAME=delivery PREFIX=del . bench/private_redis.sh
# PIN=1: the sink gets a core of its own, the sending side (smtp-source for the limit, nurture
# and Redis for the run) the other, so each side is measured on one core without the other.
SENDER_CORE=() SINK_CORE=()
if [ -n "${PIN:-}" ]; then
  SENDER_CORE=(taskset -c 0) SINK_CORE=(taskset -c 1)
  taskset -pc 0 "$(cat "$WORK/redis.pid")" >/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SINK_PORT=$(free_port)
SINK_PID=""
stop_sink() {
  if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; fi
  SINK_PID=""
}
start_sink() { "${SINK_CORE[@]}" /usr/sbin/smtp-sink -u nobody -m 1024 "$@" "127.0.0.1:$SINK_PORT" 1024 >/dev/null 2>&1 & SINK_PID=$!; sleep 0.3; }
trap 'stop_sink; cleanup' EXIT

mkdir -p "$WORK/templates/bench"
cp bench/blast.toml "$WORK/jobs/"
cp bench/blast.email.hbs "$WORK/templates/bench/"
add_sender
cat >> "$WORK/nurture.toml" <<TOML
[delivery]
concurrency = $CONCURRENCY
threads = $THREADS
TOML
sed -i "s|^url = \"file://.*|url = \"smtp://127.0.0.1:$SINK_PORT\"\npool_size = $POOL|" "$WORK/nurture.toml"
case "${DKIM:-}" in
  rsa) openssl genrsa -traditional -out "$WORK/dkim.key" 2048 2>/dev/null ;;
  ed25519) openssl genpkey -algorithm ed25519 -outform DER 2>/dev/null | tail -c 32 | base64 > "$WORK/dkim.key" ;;
  "") ;;
  *) echo "DKIM: rsa or ed25519" >&2; exit 2 ;;
esac
if [ -n "${DKIM:-}" ]; then
  printf '[dkim]\ndomain = "example.com"\nselector = "bench"\nprivate_key_file = "%s"\nalgorithm = "%s"\n' \
    "$WORK/dkim.key" "$DKIM" >> "$WORK/nurture.toml"
fi
export NURTURE_CONFIG="$WORK/nurture.toml"

# Fills the queue with COUNT contacts of the blast plan, every 50th suppressed.
fill() {
  redis-cli -p "$PORT" flushall >/dev/null
  python3 bench/gen_contacts.py "$1" "$WORK/contacts.csv" blast "$DATE"
  awk -F, 'NR > 1 && NR % 50 == 2 { print $1 }' "$WORK/contacts.csv" > "$WORK/suppressed.txt"
  "$BIN" suppress import "$WORK/suppressed.txt" --reason bench >/dev/null
  "$BIN" import "$WORK/contacts.csv" >/dev/null 2>&1
  "$BIN" run --date "$DATE" --now "$NOW" --enqueue-only --json >/dev/null 2>&1
}

CHECK_N=$(( N < 200 ? N : 200 ))
fill "$CHECK_N"
chmod 755 "$WORK"   # smtp-sink writes its dump as nobody
mkdir -p "$WORK/dump" && chmod 777 "$WORK/dump"
start_sink -d "$WORK/dump/%H%M%S."
"$BIN" run --date "$DATE" --now "$NOW" --json >/dev/null 2>&1
stop_sink
SIZE=$(python3 bench/delivery.py check "$WORK/dump" "$WORK/contacts.csv" "$WORK/suppressed.txt")
echo "message size: $SIZE bytes (mean of the checked messages)"

start_sink
read -r LIMIT LIMIT_SINK_CPU < <("${SENDER_CORE[@]}" python3 bench/delivery.py limit "$SINK_PID" "$SINK_PORT" "$N" "$SIZE" 8)
echo "SMTP limit: smtp-source -s 8 -d -m $N -l $SIZE -> smtp-sink: $LIMIT msgs/s; smtp-sink CPU $LIMIT_SINK_CPU ms/msg"
for W in $WORKER_COUNTS; do
  fill "$N"
  if [ "${ENGINE:-work}" = run ]; then ENGINE_CMD=(run --date "$DATE" --now "$NOW"); else ENGINE_CMD=(work --now "$NOW"); fi
  read -r RATE CPU RSS WALL REDIS_CPU SINK_CPU < <("${SENDER_CORE[@]}" python3 bench/delivery.py work "$SINK_PID" "$PORT" del "$DATE" "$N" "$W" -- "$BIN" "${ENGINE_CMD[@]}")
  LANES="$THREADS lane(s)"; [ "$THREADS" = 0 ] && LANES="one lane per core ($(nproc))"
  echo "nurture, $W ${ENGINE:-work} process(es) × $LANES, concurrency $CONCURRENCY, pool $POOL: $N messages in ${WALL}s = $RATE msgs/s = $(python3 -c "print(f'{$RATE/$LIMIT:.3f}')") x the limit; CPU $CPU ms/msg (all workers), peak RSS $RSS MiB; Redis CPU $REDIS_CPU ms/msg, smtp-sink CPU $SINK_CPU ms/msg"
done
if [ -n "${SMOKE:-}" ]; then echo "smoke run: figures of a small N on a debug build mean nothing"; fi
