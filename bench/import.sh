#!/usr/bin/env bash
# Where an import's time goes, against its floor: `nurture import` of N generated contacts
# into a private Redis (wall time, nurture's CPU, Redis's CPU, the commands Redis spent it on),
# then `redis-cli --pipe` of the very keys it wrote into an empty server (the floor).
#
#   bench/import.sh [N]                         (default 100000)
#   NURTURE_BIN=/path/to/nurture bench/import.sh N   (another build, same data)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
PREFIX=imp
WORK_NAME=import . bench/private_redis.sh
ROOT=$PWD
cd "$WORK"
python3 "$ROOT/bench/gen_contacts.py" "$N" contacts.csv spread 2026-11-20
redis_cpu() { redis-cli -p "$PORT" info cpu | awk -F: '/used_cpu_(user|sys):/{s+=$2} END{printf "%.2f", s}'; }
redis-cli -p "$PORT" config resetstat >/dev/null
before=$(redis_cpu)
read -r wall rss cpu < <(python3 "$ROOT/bench/measure.py" "$BIN" import contacts.csv 2>/dev/null)
after=$(redis_cpu)
echo "import of $N contacts: ${wall}s wall; nurture CPU ${cpu}s, peak RSS ${rss} MiB; Redis CPU $(python3 -c "print(f'{$after - $before:.2f}')")s"
echo "Redis's time by command (microseconds):"
redis-cli -p "$PORT" info commandstats | awk -F'[:=,]' '/^cmdstat_/ && $1 !~ /info|config/ {printf "  %-16s %9d calls %11d usec\n", substr($1, 9), $3, $5}' | sort -k4 -n -r | head -8
KEYS=$(python3 "$ROOT/bench/floor.py" dump "$PORT" "$PREFIX" import.resp)
redis-cli -p "$PORT" flushall >/dev/null
read -r secs _ < <(python3 "$ROOT/bench/measure.py" --stdin import.resp redis-cli -p "$PORT" --pipe 2>/dev/null)
echo "floor: redis-cli --pipe of the $KEYS keys import wrote: ${secs}s"
