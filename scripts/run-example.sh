#!/usr/bin/env bash
# Runs an example data product end to end on the embedded local Kafka cluster,
# after installing the Debian packages the build needs (only those missing).
# Usage: bash scripts/run-example.sh [orders-enrich|customer-spend]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
export CARGO_TARGET_DIR
bash scripts/toolchain.sh
bash scripts/install-deps.sh
unset MESHKIT_BROKERS MESHKIT_TEST_BROKERS
# Built with the same feature resolution as `cargo test --workspace` and
# clippy (all targets of the workspace): a narrower `cargo run -p` resolves
# features differently and would compile RocksDB's C++ a second time.
cargo build --locked --workspace --all-targets
exec "$CARGO_TARGET_DIR/debug/${1:-orders-enrich}"
