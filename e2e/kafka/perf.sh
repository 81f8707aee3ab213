#!/usr/bin/env bash
# Runs Kafka's producer benchmark (org.apache.kafka.tools.ProducerPerformance)
# against the broker started by start.sh, with idempotent acks=all producing.
#   perf.sh [topic=perf-test] [num-records=1000000] [record-size=200]
# Extra producer properties can be given as KEY=VALUE words in KAFKA_PERF_PROPS.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kafka_require_libs

topic="${1:-perf-test}"
records="${2:-1000000}"
record_size="${3:-200}"

if ! kafka_running_pid >/dev/null; then
  echo "kafka: no broker recorded in $KAFKA_PID_FILE; trying $KAFKA_BOOTSTRAP anyway" >&2
fi

# shellcheck disable=SC2206  # KEY=VALUE words are meant to be split
extra_props=(${KAFKA_PERF_PROPS:-})
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

echo "kafka perf: $records records of $record_size bytes to topic '$topic' on $KAFKA_BOOTSTRAP"
"$JAVA" -Xms256m -Xmx512m -XX:+UseG1GC \
  -Dlog4j2.configurationFile="$KAFKA_E2E_DIR/log4j2-tools.properties" \
  -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.ProducerPerformance \
  --topic "$topic" \
  --num-records "$records" \
  --record-size "$record_size" \
  --throughput -1 \
  --bootstrap-server "$KAFKA_BOOTSTRAP" \
  --command-property acks=all enable.idempotence=true "${extra_props[@]}" \
  | tee "$out"

summary="$(grep -E 'records sent' "$out" | tail -n1)"
echo
echo "summary: ${summary:-<none: see output above>}"
