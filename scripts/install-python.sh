#!/usr/bin/env bash
# Installs Python's confluent-kafka (with its Avro, JSON Schema, Protobuf and schema-registry extras)
# into a virtualenv outside the clone, once per machine:
#   ${MESHKIT_CACHE:-$HOME/.cache/meshkit}/venv
# Used by tests/python/registry_interop.py, which checks meshkit's embedded
# schema registry against Confluent's own SchemaRegistryClient.
# Idempotent; prints nothing but errors.
set -euo pipefail
# 2.16.1 needs a certifi release (>=2026.10.19) that the package index here does not have.
CONFLUENT_KAFKA_VERSION="2.16.0"
MESHKIT_CACHE="${MESHKIT_CACHE:-$HOME/.cache/meshkit}"
venv="$MESHKIT_CACHE/venv"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-python: $python not found; install Python 3.8 or newer" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$MESHKIT_CACHE"
  "$python" -m venv "$venv"
fi
# Skip pip entirely when the pinned version is already there.
if "$venv/bin/python" - "$CONFLUENT_KAFKA_VERSION" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
import confluent_kafka.schema_registry.avro  # noqa: F401  (pulls fastavro, httpx, attrs, cachetools)
import confluent_kafka.schema_registry.json_schema  # noqa: F401  (pulls jsonschema, referencing)
import confluent_kafka.schema_registry.protobuf  # noqa: F401  (pulls protobuf, googleapis-common-protos)
sys.exit(0 if version("confluent-kafka") == sys.argv[1] else 1)
PY
then
  exit 0
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "confluent-kafka[avro,json,protobuf]==$CONFLUENT_KAFKA_VERSION" >/dev/null
