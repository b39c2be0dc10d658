#!/usr/bin/env bash
# Runs an example data product end to end on the embedded local Kafka cluster,
# after installing the Debian packages the build needs (only those missing).
# Usage: bash scripts/run-example.sh [orders-enrich|customer-spend|order-stats]
#
# It builds only what the example needs: the stateless `orders-enrich` (the
# default) compiles no RocksDB; `customer-spend` and `order-stats` add the
# `state` feature.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
export CARGO_TARGET_DIR
bash scripts/toolchain.sh
example="${1:-orders-enrich}"
features=()
if [ "$example" = customer-spend ] || [ "$example" = order-stats ]; then
    features=(--features state)
    bash scripts/install-deps.sh state
else
    bash scripts/install-deps.sh example
fi
unset MESHKIT_BROKERS MESHKIT_TEST_BROKERS
cargo build --locked -p meshkit-examples --bin "$example" "${features[@]}"
exec "$CARGO_TARGET_DIR/debug/$example"
