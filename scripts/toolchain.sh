#!/usr/bin/env bash
# Makes the toolchain pinned in rust-toolchain.toml available without a
# download when the machine's stable toolchain is that very release: rustup
# looks it up by its version name, so the stable toolchain is made visible
# under that name too. Otherwise rustup installs the pinned release.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pinned="$(sed -n 's/^channel = "\(.*\)"/\1/p' "$here/../rust-toolchain.toml")"
if (cd / && rustup toolchain list) | grep -q "^$pinned"; then
  exit 0
fi
stable_version="$(cd / && rustc +stable --version 2>/dev/null | awk '{print $2}')"
if [ "$stable_version" = "$pinned" ]; then
  toolchains="${RUSTUP_HOME:-$HOME/.rustup}/toolchains"
  host="$(cd / && rustc +stable -vV | sed -n 's/^host: //p')"
  ln -sfn "stable-$host" "$toolchains/$pinned-$host"
  echo "toolchain: stable is $pinned; made it available as $pinned"
else
  echo "toolchain: installing $pinned (stable here is ${stable_version:-absent})"
  (cd / && rustup toolchain install "$pinned" --profile minimal --component rustfmt,clippy)
fi
