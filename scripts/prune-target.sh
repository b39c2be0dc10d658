#!/usr/bin/env bash
# Keeps the shared cargo target directory bounded: every build of a changed
# test leaves its executable (hundreds of MB each, the UI tests' many more)
# beside the older ones, which nothing runs again. Removes, in each `deps`
# directory of the target (the UI tests' own target included), the
# executables that a newer one of the same name has replaced. Libraries and
# build-script outputs (RocksDB's C++ among them) are kept: cargo would
# rebuild a missing executable, but rebuilding RocksDB costs many minutes.
# Usage: bash scripts/prune-target.sh [TARGET_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
target="${1:-$CARGO_TARGET_DIR}"
[ -d "$target" ] || exit 0
python3 - "$target" <<'PY'
import os, re, sys
from collections import defaultdict

freed = 0
for root, dirs, files in os.walk(sys.argv[1]):
    if os.path.basename(root) != "deps":
        continue
    dirs[:] = []
    by_name = defaultdict(list)
    for name in files:
        path = os.path.join(root, name)
        match = re.fullmatch(r"(.+)-[0-9a-f]{16}", name)
        if match and os.path.isfile(path) and os.access(path, os.X_OK):
            by_name[match.group(1)].append(path)
    for paths in by_name.values():
        paths.sort(key=os.path.getmtime, reverse=True)
        for stale in paths[1:]:
            freed += os.path.getsize(stale)
            os.remove(stale)
print(f"target: removed {freed / 1e9:.1f} GB of replaced test executables", file=sys.stderr)
PY
