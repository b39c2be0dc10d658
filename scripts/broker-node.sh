#!/usr/bin/env bash
# Starts, kills or stops one node of a test broker laid out by
# scripts/start-broker.sh, on its own data directory and ports: the fault
# tests use it to crash a broker (kill: SIGKILL) and bring it back (start).
# Usage: broker-node.sh start|kill|stop RUN_DIR NODE_ID
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
[ $# -eq 3 ] || { echo "usage: $0 start|kill|stop RUN_DIR NODE_ID" >&2; exit 2; }
action="$1" run_dir="$2" node="$3"
node_dir="$run_dir/node-$node"
[ -f "$node_dir/server.properties" ] || { echo "broker: no node $node in $run_dir" >&2; exit 2; }
pid_file="$node_dir/pid"
log="$node_dir/broker.log"
port="$(cat "$node_dir/port")"

# How many times the node's log says it started (0 with no log yet).
starts() {
  local n
  n="$(grep -c 'Kafka Server started' "$log" 2>/dev/null)" || true
  echo "${n:-0}"
}

running_pid() {
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then cat "$pid_file"; fi
}

case "$action" in
start)
  if [ -n "$(running_pid)" ]; then
    echo "broker: node $node already running (pid $(running_pid))" >&2
    exit 0
  fi
  started_before="$(starts)"
  # 512 MB of heap per node: three nodes and the tests fit a 24 GiB,
  # 2-core machine. SIGTERM shuts down cleanly; SIGKILL is a crash.
  # The GC log (pauses, heap after each) stays beside the broker's log, so
  # a broker that stopped answering for a while can be told from one that
  # was paused.
  nohup java -Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Xlog:gc:file=$node_dir/gc.log:uptime,level:filecount=2,filesize=10m" \
    -Dlog4j2.configurationFile="$here/kafka/log4j2.properties" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$node_dir/server.properties" >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pid_file"
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "broker: node $node exited at start; the end of its log ($log):" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    if [ "$(starts)" -gt "$started_before" ]; then
      # Started: now one metadata request, to be sure it answers clients.
      if python3 "$here/kafka/probe.py" ready "127.0.0.1:$port" 1 30; then
        echo "broker: node $node up on 127.0.0.1:$port (pid $pid, log $log)" >&2
        exit 0
      fi
      break
    fi
    sleep 0.1
  done
  echo "broker: node $node did not start within 60 s; the end of its log ($log):" >&2
  tail -n 40 "$log" >&2
  kill -9 "$pid" 2>/dev/null || true
  exit 1
  ;;
kill)
  pid="$(running_pid)"
  [ -n "$pid" ] || { echo "broker: node $node is not running" >&2; exit 0; }
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  echo "broker: node $node killed (SIGKILL, pid $pid)" >&2
  ;;
stop)
  pid="$(running_pid)"
  [ -n "$pid" ] || exit 0
  kill -TERM "$pid" 2>/dev/null || true
  # A clean shutdown takes a few seconds; past 30 s it is a kill.
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "broker: node $node did not stop on SIGTERM within 30 s; SIGKILL" >&2
    kill -9 "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  echo "broker: node $node stopped (pid $pid)" >&2
  ;;
*)
  echo "usage: $0 start|kill|stop RUN_DIR NODE_ID" >&2
  exit 2
  ;;
esac
