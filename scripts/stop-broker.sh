#!/usr/bin/env bash
# Stops the test broker that scripts/start-broker.sh started last (or the one on
# the port given as the first argument).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
port="${1:-$(cat "$MESHKIT_CACHE/run/current-port" 2>/dev/null || true)}"
[ -n "$port" ] || { echo "broker: none started" >&2; exit 0; }
pid_file="$MESHKIT_CACHE/run/broker-$port/pid"
if [ -f "$pid_file" ]; then
  pid="$(cat "$pid_file")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pid_file"
  echo "broker: stopped (port $port)" >&2
fi
