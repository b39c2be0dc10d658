#!/usr/bin/env bash
# Installs the Debian packages the build needs, only those missing: a C/C++
# toolchain and OpenSSL for librdkafka, libclang for the RocksDB bindings.
set -euo pipefail
packages=(pkg-config libssl-dev zlib1g-dev make g++ python3 python3-venv libclang-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
else
  echo "deps: Debian packages present"
fi
