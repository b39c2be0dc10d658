# Shared paths for meshkit's scripts. Sourced, not run.
# Everything heavy lives outside the clone so that a fresh clone on the same
# machine reuses it: the cargo target dir and the installed test broker.
MESHKIT_CACHE="${MESHKIT_CACHE:-$HOME/.cache/meshkit}"
NISSHI_VERSION="${NISSHI_VERSION:-0.7.0}"
NISSHI_ROOT="$MESHKIT_CACHE/nisshi-$NISSHI_VERSION"
NISSHI_BIN="$NISSHI_ROOT/bin/nisshi"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MESHKIT_CACHE/target}"
