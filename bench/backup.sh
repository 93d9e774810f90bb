#!/usr/bin/env bash
# nurture benchmark (issue 14): `backup` and `restore` of an installation with N contacts and
# N ledger marks (one delivered message each), on a private redis-server. Prints the time,
# peak RSS and archive size of each, Redis' memory per contact and per ledger mark, and checks
# that the restored prefix holds the same number of keys.
#
#   bench/backup.sh [N]          (default 1000000)
#   NURTURE_BIN=/path/to/nurture bench/backup.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DATE=2026-11-20
WORK_NAME=backup PREFIX=bak . bench/private_redis.sh

used() { redis-cli -p "$PORT" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p' | tr -d '\r'; }

cd "$WORK"
python3 "$OLDPWD/bench/gen_contacts.py" "$N" contacts.csv spread "$DATE"
EMPTY=$(used)
"$BIN" import contacts.csv >/dev/null 2>&1
CONTACTS_MEM=$(( $(used) - EMPTY ))
# N ledger marks, as N delivered messages leave them (key and value as nurture writes them).
python3 - "$N" <<'PY' | redis-cli -p "$PORT" --pipe >/dev/null
import sys
n = int(sys.argv[1])
out = sys.stdout
for i in range(n):
    key = "bak:delivery:c%d@example.com|33-touch|t%d|2026-11-19" % (i, i % 33)
    val = "sent:1763600000"
    out.write("*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$7\r\n3024000\r\n" % (len(key), key, len(val), val))
PY
MARKS_MEM=$(( $(used) - EMPTY - CONTACTS_MEM ))
KEYS=$(redis-cli -p "$PORT" dbsize)
echo "== $N contacts, $N ledger marks: $KEYS keys; Redis memory $(( CONTACTS_MEM / N )) B per contact (with its indexes), $(( MARKS_MEM / N )) B per ledger mark"
echo "backup: $(measure "$BIN" backup archive.jsonl), archive $(( $(stat -c %s archive.jsonl) / 1048576 )) MiB"
sed -i 's/^prefix = "bak"/prefix = "restored"/' nurture.toml
RESTORE=$(measure "$BIN" restore archive.jsonl)
AFTER=$(redis-cli -p "$PORT" dbsize)
echo "restore into an empty prefix: $RESTORE; $(( AFTER - KEYS )) of $KEYS keys restored"
if [ $(( AFTER - KEYS )) -ne "$KEYS" ]; then echo "error: the restore did not bring back every key" >&2; exit 1; fi
