# Sourced by the benchmarks that need a Redis of their own: builds nurture (unless
# NURTURE_BIN names another build), starts a private redis-server without persistence on a
# free port, and writes a nurture workspace that uses it.
#
#   WORK_NAME=report PREFIX=rep . bench/private_redis.sh
#
# Sets WORK (the workspace directory), BIN and PORT; removes both on exit (KEEP=1 keeps them
# and says where, to look at the data afterwards).
WORK=$(mktemp -d "/tmp/nurture-$WORK_NAME.XXXXXX")
if [ -z "${NURTURE_BIN:-}" ]; then cargo build --release --quiet; fi
BIN="${NURTURE_BIN:-$PWD/target/release/nurture}"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --dir "$WORK" --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
cleanup() {
  if [ -n "${KEEP:-}" ]; then echo "kept: redis-server on port $PORT, workspace $WORK"; return; fi
  local pid
  pid=$(cat "$WORK/redis.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    # Redis writes its last log line as it exits: remove the folder after it is gone.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$WORK" 2>/dev/null || { sleep 0.5; rm -rf "$WORK"; }
}
trap cleanup EXIT
for _ in $(seq 1 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

cp -r jobs templates "$WORK/"
cat > "$WORK/nurture.toml" <<TOML
[redis]
url = "redis://127.0.0.1:$PORT/0"
prefix = "$PREFIX"
[smtp]
url = "file://$WORK/out"
[sms]
provider = "file"
outbox = "$WORK/sms.jsonl"
[unsubscribe]
secret = "bench-secret"
[privacy]
pepper = "bench-pepper"
TOML

# The sender a one-email blast needs, with an HTTPS unsubscribe base (appended to the config).
add_sender() {
  cat >> "$WORK/nurture.toml" <<TOML
[sender]
name = "Sara Haddad"
email = "sara@example.com"
postal_address = "12 Main St, Springfield, IL 62701"
timezone = "UTC"
TOML
  sed -i "s|^\[unsubscribe\]|[unsubscribe]\nbase_url = \"https://nurture.example.com\"|" "$WORK/nurture.toml"
}

# Wall time and peak RSS of a command (getrusage of the child): "1.23s, peak RSS 45 MiB".
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
secs = time.monotonic() - t
if p.returncode != 0:
    sys.exit(f"failed ({p.returncode}): {sys.argv[1:]}: {p.stderr}")
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{secs:.2f}s, peak RSS {rss // 1024} MiB")
PY
}
