#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian packages, Confluent's Python client, the test broker), starts the broker on loopback, runs
# formatting, lints, every test (unit, doc, mock-cluster, real-broker, crash),
# and the example product, then stops the broker.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
export CARGO_TARGET_DIR
# Incremental compilation caches take gigabytes per build of the workspace and
# a clean clone gains little from them.
export CARGO_INCREMENTAL=0
mkdir -p "$MESHKIT_CACHE"

bash scripts/toolchain.sh
bash scripts/install-deps.sh
# Confluent's Python client, for the interoperability tests (a venv outside the clone).
bash scripts/install-python.sh
export MESHKIT_TEST_REQUIRE_PYTHON=1
# promtool (Debian package prometheus, from install-deps.sh) lints a real /metrics scrape.
export MESHKIT_TEST_REQUIRE_PROMTOOL=1
# The broker builds in the background while the workspace compiles.
broker_log="$MESHKIT_CACHE/broker-install.log"
bash scripts/install-broker.sh >"$broker_log" 2>&1 &
broker_install=$!

echo "== cargo fmt --check"
cargo fmt --all --check
# Clippy type-checks every target (benches and examples included); the test
# run then builds what it runs, so nothing is compiled twice in full.
echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== building the tests"
cargo test --workspace --locked --no-run

echo "== waiting for the broker install (log: $broker_log)"
if ! wait "$broker_install"; then
  cat "$broker_log" >&2
  echo "broker install failed" >&2
  exit 1
fi
tail -n 1 "$broker_log"
eval "$(bash scripts/start-broker.sh)"
trap 'bash scripts/stop-broker.sh' EXIT
echo "== tests (broker at $MESHKIT_TEST_BROKERS)"
cargo test --workspace --locked
echo "== the example product, end to end on the embedded cluster"
bash scripts/run-example.sh orders-enrich
bash scripts/run-example.sh customer-spend
echo "== all checks passed"
