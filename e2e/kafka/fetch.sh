#!/usr/bin/env bash
# Collects the Kafka broker, its command-line tools and their runtime
# dependencies from Maven Central into the cache directory (outside the repo):
#   ${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/kafka/<version>/libs
# Safe to run repeatedly: it does nothing once the jars for the current
# pom.xml are in place.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pom_digest="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
if [[ -f "$KAFKA_FETCH_MARKER" && "$(cat "$KAFKA_FETCH_MARKER")" == "$pom_digest" ]]; then
  echo "kafka $KAFKA_VERSION: jars already in $KAFKA_LIBS"
  exit 0
fi

command -v mvn >/dev/null || { echo "kafka: mvn is not installed" >&2; exit 1; }

mkdir -p "$KAFKA_HOME_DIR"
staging="$KAFKA_HOME_DIR/libs.partial.$$"
trap 'rm -rf "$staging"' EXIT
rm -rf "$staging"

echo "kafka $KAFKA_VERSION: resolving jars from Maven Central into $KAFKA_LIBS ..."
started=$SECONDS
# Maven 3.8 emits bare colour-reset sequences even in quiet batch mode; strip them.
mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies \
  -DoutputDirectory="$staging" -DincludeScope=runtime 2>&1 | sed 's/\x1b\[[0-9;]*m//g'

jar_count="$(find "$staging" -maxdepth 1 -name '*.jar' | wc -l)"
for required in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar" "kafka-clients-$KAFKA_VERSION.jar"; do
  if [[ ! -f "$staging/$required" ]]; then
    echo "kafka: $required missing after resolution" >&2
    exit 1
  fi
done

rm -rf "$KAFKA_LIBS"
mv "$staging" "$KAFKA_LIBS"
echo "$pom_digest" >"$KAFKA_FETCH_MARKER"
echo "kafka $KAFKA_VERSION: $jar_count jars in $KAFKA_LIBS ($((SECONDS - started)) s)"
