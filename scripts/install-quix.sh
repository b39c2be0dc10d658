#!/usr/bin/env bash
# Installs the Quix Streams contender of the peer benchmark
# (benches/peers/quix/requirements.txt) into a virtualenv of its own,
# outside the clone, once per machine:
#   ${MESHKIT_CACHE:-$HOME/.cache/meshkit}/venv-quix
# Not the tests' venv: quixstreams pins confluent-kafka below 2.13, the tests
# use 2.16.0.
# Idempotent; prints nothing but errors.
set -euo pipefail
MESHKIT_CACHE="${MESHKIT_CACHE:-$HOME/.cache/meshkit}"
venv="$MESHKIT_CACHE/venv-quix"
requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/benches/peers/quix/requirements.txt"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-quix: $python not found; quixstreams needs Python 3.11 or newer" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$MESHKIT_CACHE"
  "$python" -m venv "$venv"
fi
# Skip pip entirely when the venv was made from these very requirements and
# still imports.
installed="$venv/requirements.installed.txt"
if cmp -s "$requirements" "$installed" \
  && "$venv/bin/python" -W ignore -c 'import quixstreams' >/dev/null 2>&1; then
  exit 0
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$requirements" >/dev/null
cp "$requirements" "$installed"
