#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian packages, Confluent's Python client, Apache Kafka's jars), starts the
# broker on loopback, runs formatting, lints, every test (unit, doc,
# mock-cluster, broker, crash, broker faults on brokers of their own), the
# example products, and the crates `meshkit new` generates, then stops the
# broker.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
export CARGO_TARGET_DIR
# Incremental compilation caches take gigabytes per build of the workspace and
# a clean clone gains little from them.
export CARGO_INCREMENTAL=0
mkdir -p "$MESHKIT_CACHE"
# Replaced test executables pile up in the shared target directory (tens of
# GB over a day of builds); a full disk fails the build.
bash scripts/prune-target.sh

bash scripts/toolchain.sh
bash scripts/install-deps.sh tests
# Confluent's Python client, for the interoperability tests (a venv outside the clone).
bash scripts/install-python.sh
# Quix Streams, the peer benchmark's Python contender (its smoke run is a
# test), in a venv of its own: it pins an older confluent-kafka.
bash scripts/install-quix.sh
export MESHKIT_TEST_REQUIRE_PYTHON=1
# Debian's Chromium and playwright-core, for the web catalog's browser test.
bash scripts/install-browser.sh
export MESHKIT_TEST_REQUIRE_BROWSER=1
# promtool (Debian package prometheus, from install-deps.sh) lints a real /metrics scrape.
export MESHKIT_TEST_REQUIRE_PROMTOOL=1
# The test broker: Apache Kafka's jars, resolved once per machine.
bash scripts/install-broker.sh
# No broker test may skip here: a missing broker fails it.
export MESHKIT_TEST_REQUIRE_BROKER=1

# The workspace builds with the stateful example too (a feature of the
# examples package); the tests crate asks for meshkit's defaults and its CLI.
workspace=(--workspace --locked --features meshkit-examples/state)

echo "== cargo fmt --check"
cargo fmt --all --check
# Clippy type-checks every target (benches and examples included); the test
# run then builds what it runs, so nothing is compiled twice in full.
echo "== clippy"
cargo clippy "${workspace[@]}" --all-targets -- -D warnings
echo "== Cargo features and the minimum Rust version"
bash scripts/check-features.sh

echo "== building the tests"
cargo test "${workspace[@]}" --no-run

echo "== starting the test broker"
eval "$(bash scripts/start-broker.sh)"
trap 'bash scripts/stop-broker.sh "$MESHKIT_TEST_BROKER_DIR"' EXIT
echo "== tests (broker at $MESHKIT_TEST_BROKERS)"
cargo test "${workspace[@]}"
echo "== the example product, end to end on the embedded cluster"
bash scripts/run-example.sh orders-enrich
bash scripts/run-example.sh customer-spend
bash scripts/run-example.sh order-stats
echo "== meshkit new, for every template: the generated crate's tests and demo"
bash scripts/test-templates.sh
echo "== all checks passed"
