#!/usr/bin/env bash
# Installs the Debian packages a build needs, only those missing.
# Usage: bash scripts/install-deps.sh [example|state|tests]
#   example: a C/C++ toolchain and OpenSSL for librdkafka (a stateless product);
#   state:   and libclang for the RocksDB bindings (the `state` feature);
#   tests:   (the default) and prometheus for `promtool check metrics` (the
#            metrics lint test), Python's venv, Java and Maven for the test
#            broker (Apache Kafka, assembled from its jars), a JDK to build
#            the peer benchmark's Kafka Streams contender (its smoke run is a
#            test), and the font its chart is drawn with.
set -euo pipefail
packages=(pkg-config libssl-dev zlib1g-dev make g++)
case "${1:-tests}" in
  example) ;;
  state) packages+=(libclang-dev) ;;
  tests) packages+=(libclang-dev python3 python3-venv prometheus openjdk-17-jdk-headless maven fonts-dejavu-core) ;;
  *) echo "usage: $0 [example|state|tests]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  # Only promtool is wanted from the prometheus package: keep its server from
  # being started (a policy-rc.d that refuses every start, for this install
  # only, when the machine has none) and leave its web assets' recommends out.
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$guard" >/dev/null
    $sudo chmod 755 "$guard"
    trap '$sudo rm -f "$guard"' EXIT
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: Debian packages present"
fi
