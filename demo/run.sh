#!/usr/bin/env bash
# The demo on a fresh machine with only Rust: makes sure a Redis answers on 127.0.0.1:6379
# (starting one, and installing Debian's redis-server first when it is missing), then imports
# the demo contacts (demo/contacts.xlsx, a spreadsheet as agents keep them), runs tonight's
# plans and shows the agent's day. Emails land in outbox/*.eml, SMS in outbox/sms.jsonl.
#
#   DEMO_REDIS_PORT=6390 demo/run.sh     # another port (the demo then uses that Redis)
set -euo pipefail
cd "$(dirname "$0")/.."
port=${DEMO_REDIS_PORT:-6379}
export NURTURE_REDIS_URL="redis://127.0.0.1:$port/0"

if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
  echo "demo: using the Redis on 127.0.0.1:$port (keys under the prefix \"nurture\")"
else
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "demo: no redis-server here; installing Debian's redis-server package (apt-get)"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
  fi
  echo "demo: no Redis answered on 127.0.0.1:$port; starting one (redis-server --daemonize yes, data in /tmp/nurture-demo-redis-$port)"
  mkdir -p "/tmp/nurture-demo-redis-$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "/tmp/nurture-demo-redis-$port" \
    --appendonly yes --save "" >/dev/null
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "demo: stop it later with: redis-cli -p $port shutdown"
fi

# cargo's own progress: the first build takes a few minutes.
cargo build --release --locked
nurture="${CARGO_TARGET_DIR:-target}/release/nurture"
"$nurture" import demo/contacts.xlsx
"$nurture" run
echo
"$nurture" agenda
echo
echo "demo: emails are in outbox/*.eml, text messages in outbox/sms.jsonl; put nurture on your PATH with: cargo install --locked --path ."
