#!/usr/bin/env bash
# nurture benchmark (issue 27): the Redis memory a delivered message leaves behind, split into
# keys with an expiry (they go by themselves) and keys without one (they stay until the nightly
# clean-up, or for good), per kind of key.
#
#   bench/memory.sh [N]        (default 20000; NURTURE_BIN to use another build)
#
# A private redis-server; N contacts on a one-email plan, imported (the baseline), then one
# `nurture run` that delivers every message to files (the outbox: no SMTP cost in the way).
# Each key's MEMORY USAGE is taken before and after the run; the difference is divided by the
# messages delivered.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
DATE=2026-11-20
WORK_NAME=memory PREFIX=mem . bench/private_redis.sh
cp bench/blast.toml "$WORK/jobs/"
mkdir -p "$WORK/templates/bench" && cp bench/blast.email.hbs "$WORK/templates/bench/"
add_sender
export NURTURE_CONFIG="$WORK/nurture.toml"
python3 bench/gen_contacts.py "$N" "$WORK/contacts.csv" blast "$DATE"
"$BIN" import "$WORK/contacts.csv" >/dev/null 2>&1
python3 bench/memory.py snapshot "$PORT" > "$WORK/before.json"
"$BIN" run --date "$DATE" --now "${DATE}T12:00:00Z" --json > "$WORK/run.json" 2>/dev/null
python3 bench/memory.py snapshot "$PORT" > "$WORK/after.json"
SENT=$(python3 -c "import json;t=open('$WORK/run.json').read();print(json.loads(t[t.index('{'):])['sent'])")
python3 bench/memory.py compare "$WORK/before.json" "$WORK/after.json" "$SENT" mem
