#!/usr/bin/env bash
# Runs an example data product end to end on the embedded local Kafka cluster,
# after installing the Debian packages the build needs (only those missing).
# Usage: bash scripts/run-example.sh [orders-enrich|customer-spend]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
export CARGO_TARGET_DIR
bash scripts/install-deps.sh
unset MESHKIT_BROKERS MESHKIT_TEST_BROKERS
exec cargo run --locked -p meshkit-examples --bin "${1:-orders-enrich}"
