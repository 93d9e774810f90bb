#!/usr/bin/env bash
# nurture benchmark (issue 24): `nurture inbound fetch` over N returning messages of every
# kind (bench/inbound_mail.py: bounces as Postfix, Gmail and Microsoft 365 send them, soft
# bounces, replies, auto-replies, complaints, mailed opt-outs, strangers' mail), in a private
# Dovecot, matched against the messages nurture sent to N/4 contacts. Prints the fetch's time,
# messages per second and peak RSS, what it did, and the time of a second fetch (nothing
# unread). Needs dovecot-imapd (`.ci/run` installs it).
#
#   bench/inbound.sh [N]          (default 10000)
#   NURTURE_BIN=/path/to/nurture bench/inbound.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
CONTACTS=$(( N / 4 > 10 ? N / 4 : 10 ))
DATE=2026-11-20
WORK_NAME=inbound PREFIX=inb . bench/private_redis.sh
ROOT=$PWD

# A private Dovecot, as the tests run it: one user bounces / secret, mail in $WORK/mail.
IMAP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/mail" "$WORK/dovecot" && chmod 777 "$WORK/mail" && chmod 755 "$WORK"
echo "bounces:{PLAIN}secret:65534:65534::$WORK/mail/bounces" > "$WORK/dovecot/passwd"
cat > "$WORK/dovecot/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $WORK/dovecot/run
state_dir = $WORK/dovecot/run
instance_name = nurture-bench-$IMAP_PORT
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
mail_location = maildir:~/Maildir
log_path = $WORK/dovecot/dovecot.log
passdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
userdb {
  driver = passwd-file
  args = $WORK/dovecot/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
}
CONF
/usr/sbin/dovecot -F -c "$WORK/dovecot/dovecot.conf" &
DOVECOT=$!
trap 'kill $DOVECOT 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $IMAP_PORT))" 2>/dev/null && break; sleep 0.1; done

cd "$WORK"
cat >> nurture.toml <<TOML
[sender]
email = "sara@example.com"
[inbound]
imap = "imap://bounces:secret@127.0.0.1:$IMAP_PORT/INBOX"
TOML
sed -i 's/^secret = "bench-secret"/secret = "bench-secret"\nmailto = "unsubscribe@example.com"/' nurture.toml
python3 "$ROOT/bench/gen_contacts.py" "$CONTACTS" contacts.csv blast "$DATE"
mkdir -p jobs/bench templates/bench
cp "$ROOT/bench/blast.toml" jobs/ && cp "$ROOT/bench/blast.email.hbs" templates/bench/
"$BIN" import contacts.csv >/dev/null 2>&1
"$BIN" run --date "$DATE" --now "${DATE}T18:00:00Z" >/dev/null 2>&1
python3 "$ROOT/bench/inbound_mail.py" returns "$N" out
start=$(date +%s.%N)
python3 - "$IMAP_PORT" returns <<'PY'
import imaplib, os, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bounces", "secret")
d = sys.argv[2]
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as f:
        m.append("INBOX", None, None, f.read())
m.logout()
PY
echo "$N messages appended to Dovecot in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")s ($CONTACTS contacts mailed)"

python3 - "$BIN" "$N" <<'PY'
import json, resource, subprocess, sys, time
bin_, n = sys.argv[1], int(sys.argv[2])
t = time.monotonic()
p = subprocess.run([bin_, "inbound", "fetch", "--json", "--now", "2026-11-21T15:00:00Z"], capture_output=True, text=True)
secs = time.monotonic() - t
if p.returncode != 0:
    sys.exit(f"inbound fetch failed: {p.stderr}")
r = json.loads(p.stdout)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
print(f"inbound fetch: {r['unread']} messages in {secs:.2f}s = {r['unread'] / secs:,.0f} messages/s, peak RSS {rss} MiB")
print(f"  outcomes {r['outcomes']}, moved {r['moved']}")
print(f"  kinds {r['kinds']}")
assert r["unread"] == n, r
assert sum(r["outcomes"].values()) == n, r
t = time.monotonic()
p = subprocess.run([bin_, "inbound", "fetch", "--json"], capture_output=True, text=True)
again = json.loads(p.stdout)
print(f"second fetch: {again['unread']} unread in {time.monotonic() - t:.2f}s")
PY
echo "redis used_memory after: $(redis-cli -p "$PORT" info memory | grep '^used_memory_human' | cut -d: -f2 | tr -d '\r')"
