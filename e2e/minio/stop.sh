#!/usr/bin/env bash
# Stops the server started by start.sh, using only the PID recorded in
# $STATE_DIR/minio.pid: SIGTERM, then SIGKILL after MINIO_STOP_TIMEOUT
# seconds (default 20). Exits 0 when nothing is running. Data is kept.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! pid="$(minio_running_pid)"; then
  if [[ -f "$MINIO_PID_FILE" ]]; then
    echo "minio: not running (removing stale $MINIO_PID_FILE)"
    rm -f "$MINIO_PID_FILE"
  else
    echo "minio: not running"
  fi
  exit 0
fi

started=$SECONDS
grace="${MINIO_STOP_TIMEOUT:-20}"
echo "minio: stopping server (pid $pid) ..."
kill -TERM "$pid" 2>/dev/null || true
while kill -0 "$pid" 2>/dev/null && ((SECONDS - started < grace)); do
  sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
  echo "minio: still alive after ${grace}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
fi
rm -f "$MINIO_PID_FILE"
echo "minio: stopped in $((SECONDS - started)) s"
