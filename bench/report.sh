#!/usr/bin/env bash
# nurture benchmark: `report` over a year of facts of N contacts (issue 12). A private
# redis-server is filled directly with the facts nurture records (bench/gen_facts.py: ~15 per
# contact a year — leads, 14 sends, failures, suppressions, opt-outs, responses, deals, stage
# changes), then each report is timed (wall clock, peak RSS of the process).
#
#   bench/report.sh [N] [DAYS]        (defaults: 1000000 365)
#   NURTURE_BIN=/path/to/nurture bench/report.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DAYS=${2:-365}
LAST=2026-12-06
WORK_NAME=report PREFIX=rep . bench/private_redis.sh

start=$(date +%s.%N)
python3 bench/gen_facts.py "$N" rep "$LAST" "$DAYS" | redis-cli -p "$PORT" --pipe >/dev/null
echo "filled in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")s; redis used_memory $(redis-cli -p "$PORT" info memory | grep '^used_memory_human' | cut -d: -f2 | tr -d '\r')"


cd "$WORK"
FROM=$(date -d "$LAST - $((DAYS - 1)) days" +%F)
for by in source plan touch agent; do
  echo "report --by $by, $DAYS days: $(measure "$BIN" report --from "$FROM" --to "$LAST" --by "$by" --json)"
done
echo "report, last 30 days (the default period): $(measure "$BIN" report --to "$LAST")"
echo "report --html, $DAYS days: $(measure "$BIN" report --from "$FROM" --to "$LAST" --html "$WORK/report.html")"
echo "report customers: $(measure "$BIN" report customers --date "$LAST" --csv)"
"$BIN" report --from "$FROM" --to "$LAST" --by source | tail -3
