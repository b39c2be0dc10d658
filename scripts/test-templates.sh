#!/usr/bin/env bash
# `meshkit new` for every template, then, in each generated crate, its tests
# (`cargo test`, the test driver) and its demo (`cargo run`, on the embedded
# cluster): the templates must build and pass as generated.
#
# Usage: bash scripts/test-templates.sh [TEMPLATE...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export CARGO_TARGET_DIR CARGO_INCREMENTAL=0
repo=$(pwd)
templates=("$@")
[ ${#templates[@]} -gt 0 ] || templates=(stateless stateful windowed)

# The generated crates (and `-p meshkit` alone) resolve RocksDB's features
# apart from the workspace, which would compile its C++ again (some twenty
# minutes on two cores): link the library the workspace's build made, as the
# DSL's UI test does. Set before any build here, so that every build of this
# script sees the same setting and none compiles RocksDB again.
for out in $(ls -td "$CARGO_TARGET_DIR"/debug/build/librocksdb-sys-*/out 2>/dev/null); do
    if [ -f "$out/librocksdb.a" ]; then
        export ROCKSDB_LIB_DIR="$out" ROCKSDB_STATIC=1
        break
    fi
done

cargo build --locked -q -p meshkit --features cli --bin meshkit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for template in "${templates[@]}"; do
    name="demo-$template"
    echo "== meshkit new $name --template $template"
    "$CARGO_TARGET_DIR/debug/meshkit" new "$name" --template "$template" --domain sales \
        --dir "$work/$name" --meshkit-path "$repo/meshkit"
    # The workspace's versions of every dependency, so that the shared
    # target directory's builds are reused.
    cp Cargo.lock "$work/$name/"
    (
        cd "$work/$name"
        cargo test -q
        env -u MESHKIT_BROKERS cargo run -q
    )
done
echo "templates ok: ${templates[*]}"
