# Shared paths for meshkit's scripts. Sourced, not run.
# Everything heavy lives outside the clone so that a fresh clone on the same
# machine reuses it: the cargo target dir, the test broker's jars, the venv.
MESHKIT_CACHE="${MESHKIT_CACHE:-$HOME/.cache/meshkit}"
_meshkit_scripts="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The Kafka release is the one scripts/kafka/pom.xml pins.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$_meshkit_scripts/kafka/pom.xml")"
KAFKA_HOME="$MESHKIT_CACHE/kafka-$KAFKA_VERSION"
KAFKA_LIB="$KAFKA_HOME/lib"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MESHKIT_CACHE/target}"
