#!/usr/bin/env bash
# Starts the test broker on a free loopback port, with SQLite storage in a
# fresh directory, and prints the line to export:
#   MESHKIT_TEST_BROKERS=127.0.0.1:PORT
# Usage: eval "$(scripts/start-broker.sh)"   (stop it with scripts/stop-broker.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

if [ ! -x "$NISSHI_BIN" ]; then
  echo "broker: not installed; run scripts/install-broker.sh first" >&2
  exit 1
fi
port="${MESHKIT_BROKER_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
run_dir="$MESHKIT_CACHE/run/broker-$port"
rm -rf "$run_dir"
# Logs of brokers that no longer run take hundreds of MB each: keep only
# those of running ones (a stopped broker's log is kept until the next start).
for old in "$MESHKIT_CACHE"/run/broker-*; do
  [ -d "$old" ] || continue
  if [ -f "$old/pid" ] && kill -0 "$(cat "$old/pid")" 2>/dev/null; then continue; fi
  rm -rf "$old"
done
mkdir -p "$run_dir"
# The SQLite file is resolved against the broker's working directory.
(
  cd "$run_dir"
  exec "$NISSHI_BIN" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "sqlite://nisshi.db" \
    >"$run_dir/broker.log" 2>&1
) &
pid=$!
echo "$pid" >"$run_dir/pid"
echo "$port" >"$MESHKIT_CACHE/run/current-port"
for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "broker: exited at start; its log:" >&2
    cat "$run_dir/broker.log" >&2
    exit 1
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "broker: nisshi $NISSHI_VERSION listening on 127.0.0.1:$port (pid $pid, log $run_dir/broker.log)" >&2
    echo "export MESHKIT_TEST_BROKERS=127.0.0.1:$port"
    exit 0
  fi
  sleep 0.2
done
echo "broker: did not listen on 127.0.0.1:$port within 20 s; its log:" >&2
cat "$run_dir/broker.log" >&2
kill "$pid" 2>/dev/null || true
exit 1
