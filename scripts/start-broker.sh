#!/usr/bin/env bash
# Starts the test broker, Apache Kafka in KRaft mode (every node a combined
# broker and controller), on free 127.0.0.1 ports with fresh data directories,
# waits until it answers, and prints the lines to export:
#   MESHKIT_TEST_BROKERS=127.0.0.1:PORT[,...]   its bootstrap servers
#   MESHKIT_TEST_BROKER_DIR=DIR                 its run directory (configs, logs, pids)
# Usage: eval "$(bash scripts/start-broker.sh [--nodes 1|3] [--dir DIR])"
# --nodes 3 starts a three-node cluster (three voters; internal topics
# replicated three times, min.insync.replicas=2) for the fault tests.
# Stop it with scripts/stop-broker.sh [DIR].
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

nodes=1
run_dir="" dir_given=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --dir) run_dir="$2"; dir_given=1; shift 2 ;;
    *) echo "usage: $0 [--nodes 1|3] [--dir DIR]" >&2; exit 2 ;;
  esac
done
case "$nodes" in 1|3) ;; *) echo "broker: --nodes is 1 or 3, not '$nodes'" >&2; exit 2 ;; esac
if [ ! -f "$KAFKA_LIB/.complete" ]; then
  echo "broker: Apache Kafka $KAFKA_VERSION is not installed; run scripts/install-broker.sh first" >&2
  exit 1
fi

# Data directories of brokers no longer running are removed (their logs are
# kept until the next start, for a failed test to point at), once nothing in
# them changed for an hour: a node a test stopped on purpose, to restart it
# on the same data, is not running either.
mkdir -p "$MESHKIT_CACHE/run"
for old in "$MESHKIT_CACHE"/run/kafka-*; do
  [ -d "$old" ] || continue
  [ -z "$(find "$old" -newermt '-60 minutes' -print -quit)" ] || continue
  alive=""
  for pid_file in "$old"/node-*/pid; do
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null && alive=1
  done
  [ -n "$alive" ] || rm -rf "$old"
done

mapfile -t ports < <(python3 "$here/kafka/probe.py" ports $((2 * nodes)))
[ -n "$run_dir" ] || run_dir="$MESHKIT_CACHE/run/kafka-${ports[0]}"
rm -rf "$run_dir"
mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"

voters="" bootstrap=""
for i in $(seq 1 "$nodes"); do
  cport="${ports[$((2 * i - 1))]}"
  voters="${voters:+$voters,}$i@127.0.0.1:$cport"
  bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:${ports[$((2 * i - 2))]}"
done
if [ "$nodes" -eq 1 ]; then
  quorum="controller.quorum.bootstrap.servers=127.0.0.1:${ports[1]}"
  format_mode=(--standalone)
  replication=1 min_isr=1
else
  quorum="controller.quorum.voters=$voters"
  format_mode=()
  replication=3 min_isr=2
fi

cluster_id="$(java -cp "$KAFKA_LIB/*" kafka.tools.StorageTool random-uuid)"
for i in $(seq 1 "$nodes"); do
  port="${ports[$((2 * i - 2))]}" cport="${ports[$((2 * i - 1))]}"
  node_dir="$run_dir/node-$i"
  mkdir -p "$node_dir/data"
  echo "$port" >"$node_dir/port"
  cat >"$node_dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$i
$quorum
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$node_dir/data
offsets.topic.replication.factor=$replication
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=$replication
share.coordinator.state.topic.min.isr=$min_isr
default.replication.factor=$replication
min.insync.replicas=$min_isr
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=2
background.threads=2
PROPS
  java -cp "$KAFKA_LIB/*" -Dlog4j2.configurationFile="$here/kafka/log4j2.properties" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$node_dir/server.properties" \
    ${format_mode[@]+"${format_mode[@]}"} >"$node_dir/format.log" 2>&1 || {
      echo "broker: formatting node $i failed:" >&2
      cat "$node_dir/format.log" >&2
      exit 1
    }
done
echo "$bootstrap" >"$run_dir/brokers"
# stop-broker.sh with no argument stops the last broker started without --dir
# (a test's own brokers, started with --dir, never replace it).
[ -n "$dir_given" ] || echo "$run_dir" >"$MESHKIT_CACHE/run/current"

start=$(date +%s.%N)
# Every node at once: a quorum of three needs its voters up together.
pids=()
for i in $(seq 1 "$nodes"); do
  bash "$here/broker-node.sh" start "$run_dir" "$i" &
  pids+=($!)
done
failed=""
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [ -z "$failed" ]; then
  python3 "$here/kafka/probe.py" ready "${bootstrap%%,*}" "$nodes" 60 || failed=1
fi
if [ -n "$failed" ]; then
  bash "$here/stop-broker.sh" "$run_dir" >&2 || true
  exit 1
fi
elapsed=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)")
echo "broker: Apache Kafka $KAFKA_VERSION, $nodes node(s) at $bootstrap, ready in $elapsed s (run dir $run_dir)" >&2
echo "export MESHKIT_TEST_BROKERS=$bootstrap"
echo "export MESHKIT_TEST_BROKER_DIR=$run_dir"
