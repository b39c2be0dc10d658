#!/usr/bin/env bash
# Installs the Kafka-API test broker (Nisshi, formerly Tansu) once into a cache
# directory outside the clone. Nisshi 0.7.0 is the version measured to support
# Kafka transactions with librdkafka 2.12 (see ../shared/kafka/README.md); it
# needs a nightly toolchain to build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

if [ -x "$NISSHI_BIN" ]; then
  echo "broker: nisshi $NISSHI_VERSION already installed at $NISSHI_BIN"
  exit 0
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "broker: the nightly Rust toolchain is missing; nisshi $NISSHI_VERSION only builds with nightly." >&2
  echo "broker: install it with 'rustup toolchain install nightly' and run this script again." >&2
  exit 1
fi
mkdir -p "$NISSHI_ROOT"
echo "broker: building nisshi $NISSHI_VERSION into $NISSHI_ROOT (about 17 minutes on 2 cores, once per machine)"
# Its own target dir, so that a failed build resumes instead of starting over.
CARGO_TARGET_DIR="$MESHKIT_CACHE/nisshi-build" \
  cargo +nightly install nisshi --version "$NISSHI_VERSION" --locked \
  --features dynostore,libsql --root "$NISSHI_ROOT"
echo "broker: installed $NISSHI_BIN"
