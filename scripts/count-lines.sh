#!/usr/bin/env bash
# Counts the lines of user code (declaration and logic) of a product, as
# formatted by rustfmt: the non-blank, non-comment lines between the
# `// product: begin` and `// product: end` markers of each file given.
# Usage: bash scripts/count-lines.sh examples/src/stats.rs
set -euo pipefail
for file in "$@"; do
    n=$(sed -n '/\/\/ product: begin/,/\/\/ product: end/p' "$file" | grep -v '^\s*//' | grep -cv '^\s*$' || true)
    echo "$file: $n lines"
done
