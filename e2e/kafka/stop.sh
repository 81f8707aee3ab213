#!/usr/bin/env bash
# Stops the broker started by start.sh, using only the PID recorded in
# $STATE_DIR/kafka.pid: SIGTERM (controlled shutdown), then SIGKILL after 30 s.
# Exits 0 when nothing is running. Broker data is kept for the next start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! pid="$(kafka_running_pid)"; then
  if [[ -f "$KAFKA_PID_FILE" ]]; then
    echo "kafka: not running (removing stale $KAFKA_PID_FILE)"
    rm -f "$KAFKA_PID_FILE"
  else
    echo "kafka: not running"
  fi
  exit 0
fi

started=$SECONDS
grace="${KAFKA_STOP_TIMEOUT:-30}"
echo "kafka: stopping broker (pid $pid) ..."
kill -TERM "$pid" 2>/dev/null || true
while kill -0 "$pid" 2>/dev/null && ((SECONDS - started < grace)); do
  sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
  echo "kafka: still alive after ${grace}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
fi
rm -f "$KAFKA_PID_FILE"
echo "kafka: stopped in $((SECONDS - started)) s"
