# Shared settings for the local Kafka broker scripts. Sourced, not executed.
# shellcheck shell=bash

KAFKA_E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_POM="$KAFKA_E2E_DIR/pom.xml"

# The broker version is whatever pom.xml pins; the jar cache is keyed on it.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM" | head -n1)"
if [[ -z "$KAFKA_VERSION" ]]; then
  echo "kafka: cannot read <kafka.version> from $KAFKA_POM" >&2
  exit 1
fi

STREAMFORGE_CACHE_DIR="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
KAFKA_HOME_DIR="$STREAMFORGE_CACHE_DIR/kafka/$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME_DIR/libs"
KAFKA_FETCH_MARKER="$KAFKA_HOME_DIR/.fetched"

STATE_DIR="${STREAMFORGE_STATE:-$STREAMFORGE_CACHE_DIR/state}"
KAFKA_PID_FILE="$STATE_DIR/kafka.pid"
KAFKA_LOG_FILE="$STATE_DIR/kafka.log"       # broker log (log4j2, rolled at 50 MB)
KAFKA_OUT_FILE="$STATE_DIR/kafka.out"       # JVM stdout/stderr (crashes, early errors)
KAFKA_WORK_DIR="$STATE_DIR/kafka"           # server.properties, cluster id
KAFKA_DATA_DIR="$KAFKA_WORK_DIR/data"       # log.dirs and the KRaft metadata log

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_ADVERTISED_HOST="${KAFKA_ADVERTISED_HOST:-127.0.0.1}"
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

if [[ -n "${JAVA_HOME:-}" ]]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA="java"
fi

# Prints the recorded broker PID if that process is alive and is a Kafka broker
# (guards against a stale pid file whose number was reused). Returns 1 otherwise.
kafka_running_pid() {
  local pid
  [[ -f "$KAFKA_PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$KAFKA_PID_FILE")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka'; then
    return 1
  fi
  echo "$pid"
}

kafka_require_libs() {
  if [[ ! -f "$KAFKA_FETCH_MARKER" ]]; then
    echo "kafka: jars for $KAFKA_VERSION are not in $KAFKA_LIBS; run e2e/kafka/fetch.sh" >&2
    exit 1
  fi
}

# Runs a Kafka command-line class (TopicCommand, ConsoleProducer, ...) on the
# cached classpath, with quiet logging to stderr. KAFKA_TOOL_TIMEOUT (seconds)
# bounds its run time when set.
kafka_tool() {
  local main="$1"
  shift
  local -a limit=()
  if [[ -n "${KAFKA_TOOL_TIMEOUT:-}" ]]; then
    limit=(timeout "$KAFKA_TOOL_TIMEOUT")
  fi
  "${limit[@]}" "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$KAFKA_E2E_DIR/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" "$main" "$@"
}
