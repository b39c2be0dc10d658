#!/usr/bin/env bash
# Installs the test broker, Apache Kafka, once per machine: the jars that
# scripts/kafka/pom.xml names (the broker, its SLF4J binding and log4j2),
# resolved with Maven and copied to $MESHKIT_CACHE/kafka-VERSION/lib, outside
# the clone. A no-op when they are there. Needs Java 17+ and Maven.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"

if [ -f "$KAFKA_LIB/.complete" ]; then
  echo "broker: Apache Kafka $KAFKA_VERSION already installed in $KAFKA_LIB"
  exit 0
fi
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "broker: '$tool' not found; the test broker needs Java 17 or newer and Maven" >&2
    exit 1
  fi
done
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [ "${java_major%%.*}" -lt 17 ] 2>/dev/null; then
  echo "broker: Java $java_major found; Apache Kafka $KAFKA_VERSION needs Java 17 or newer" >&2
  exit 1
fi
echo "broker: resolving Apache Kafka $KAFKA_VERSION's jars with Maven into $KAFKA_LIB (once per machine)"
start=$(date +%s)
# Copied into a scratch directory first, so that an interrupted install is
# never taken for a complete one.
staging="$KAFKA_HOME/lib.partial"
rm -rf "$staging"
mkdir -p "$staging"
# Maven's own output (only errors with -q, plus terminal resets) goes to a
# log that is shown when it fails.
if ! mvn -B -q -f "$here/kafka/pom.xml" \
  org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$staging" >"$KAFKA_HOME/maven.log" 2>&1; then
  cat "$KAFKA_HOME/maven.log" >&2
  echo "broker: Maven could not resolve Apache Kafka $KAFKA_VERSION's jars (log above)" >&2
  exit 1
fi
if ! ls "$staging"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1; then
  echo "broker: Maven finished but kafka_2.13-$KAFKA_VERSION.jar is not in $staging" >&2
  exit 1
fi
touch "$staging/.complete"
rm -rf "$KAFKA_LIB"
mv "$staging" "$KAFKA_LIB"
echo "broker: installed $(ls "$KAFKA_LIB" | wc -l) jars ($(du -sh "$KAFKA_LIB" | cut -f1)) in $(( $(date +%s) - start )) s"
