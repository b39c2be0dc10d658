#!/usr/bin/env bash
# Stops every node of the test broker that scripts/start-broker.sh started
# (the one in the run directory given, else the last one started): SIGTERM,
# then SIGKILL after 30 s. Removes its data directories and keeps its logs
# ($DIR/node-*/broker.log) until the next start-broker.sh.
# Usage: bash scripts/stop-broker.sh [DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
run_dir="${1:-$(cat "$MESHKIT_CACHE/run/current" 2>/dev/null || true)}"
[ -n "$run_dir" ] && [ -d "$run_dir" ] || { echo "broker: none started" >&2; exit 0; }
pids=()
for node_dir in "$run_dir"/node-*; do
  [ -d "$node_dir" ] || continue
  bash "$here/broker-node.sh" stop "$run_dir" "${node_dir##*-}" &
  pids+=($!)
done
for pid in ${pids[@]+"${pids[@]}"}; do wait "$pid" || true; done
rm -rf "$run_dir"/node-*/data "$run_dir"/node-*/pid
echo "broker: stopped; logs kept in $run_dir/node-*/broker.log (GC: gc.log beside it)" >&2
