#!/usr/bin/env bash
# Installs what the browser tests need, once per machine: Debian's Chromium
# (the browser itself; a test tool's own browser download is not used) and
# the npm package playwright-core (which drives it), pinned in
# tests/browser/package.json, into a folder outside the clone:
#   ${MESHKIT_CACHE:-$HOME/.cache/meshkit}/browser/node_modules
# playwright-core has no dependencies, so the exact pin is the whole tree
# and no lock file is kept. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MESHKIT_CACHE="${MESHKIT_CACHE:-$HOME/.cache/meshkit}"
dir="$MESHKIT_CACHE/browser"
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ "${#packages[@]}" -gt 0 ]; then
  echo "browser: installing ${packages[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
mkdir -p "$dir"
if ! cmp -s "$here/../tests/browser/package.json" "$dir/package.json" \
  || [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
  cp "$here/../tests/browser/package.json" "$dir/package.json"
  (cd "$dir" && npm install --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "browser: $(chromium --version 2>/dev/null | head -1), playwright-core $(node -p "require('$dir/node_modules/playwright-core/package.json').version")"
