#!/usr/bin/env bash
# Checks that meshkit builds with each of its Cargo features on its own,
# with none and with the defaults (cargo-hack), runs its unit tests in the
# smallest build, and checks the declared minimum Rust version (MSRV).
# Tools are kept outside the clone: cargo-hack in $MESHKIT_CACHE/tools, the
# MSRV toolchain with rustup, its build in $MESHKIT_CACHE/msrv-target.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
. scripts/env.sh
export CARGO_TARGET_DIR

hack_version=0.6.46
tools="$MESHKIT_CACHE/tools"
if ! "$tools/bin/cargo-hack" hack --version 2>/dev/null | grep -q "$hack_version"; then
  echo "features: installing cargo-hack $hack_version"
  cargo install --locked --quiet cargo-hack --version "$hack_version" --root "$tools"
fi
export PATH="$tools/bin:$PATH"

# Clippy with warnings denied (for meshkit's code only: dependencies keep
# their build), so code a feature leaves unused fails too. Resolver 2 keeps
# dev-dependencies' features out of a library check, so a feature that
# forgets one of its own dependencies' features fails here.
echo "features: each on its own, none, and the defaults"
cargo hack clippy -p meshkit --each-feature --locked -- -D warnings
echo "features: unit tests with no default features"
cargo test -p meshkit --lib --no-default-features --locked -q

msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
# rustup names a release by its full version: 1.89 is 1.89.0.
case "$msrv" in *.*.*) ;; *) msrv="$msrv.0" ;; esac
if ! (cd / && rustup toolchain list) | grep -q "^$msrv"; then
  echo "msrv: installing Rust $msrv"
  (cd / && rustup toolchain install "$msrv" --profile minimal)
fi
# Every feature but `state`, whose RocksDB C++ build would double this
# step's time; the stores' code is plain Rust that the main build checks.
echo "msrv: cargo +$msrv check"
cargo "+$msrv" check -p meshkit --locked --no-default-features \
  --features avro,registry-client,registry-server,metrics,catalog,lineage,embedded-kafka,native-tls,cli \
  --target-dir "$MESHKIT_CACHE/msrv-target"
