#!/usr/bin/env bash
# Starts a single-node, single-drive MinIO server for the end-to-end suite.
# Idempotent: if the server recorded in $STATE_DIR/minio.pid is alive it only
# says so. Builds the binary first (fetch.sh) when it is not in the cache.
#
# Environment:
#   MINIO_PORT             S3 API port, bound to 0.0.0.0          (default 9000)
#   MINIO_CONSOLE_PORT     web console port, bound to 0.0.0.0     (default 9001)
#   MINIO_ROOT_USER        root access key                        (default streamforge)
#   MINIO_ROOT_PASSWORD    root secret key, 8 characters or more  (default streamforge-secret)
#   MINIO_REGION           region the server reports              (default us-east-1)
#   MINIO_START_TIMEOUT    seconds to wait for readiness          (default 60)
#   STREAMFORGE_CACHE      build cache root                       (default ~/.cache/streamforge)
#   STREAMFORGE_STATE      pid, log and data                      (default $STREAMFORGE_CACHE/state)
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

started=$SECONDS

if pid="$(minio_running_pid)"; then
  echo "minio: already running (pid $pid) on $MINIO_ENDPOINT; log: $MINIO_LOG_FILE"
  exit 0
fi
rm -f "$MINIO_PID_FILE"

if ((${#MINIO_ROOT_USER} < 3)); then
  echo "minio: MINIO_ROOT_USER must have at least 3 characters" >&2
  exit 1
fi
if ((${#MINIO_ROOT_PASSWORD} < 8)); then
  echo "minio: MINIO_ROOT_PASSWORD must have at least 8 characters" >&2
  exit 1
fi

"$MINIO_E2E_DIR/fetch.sh"
minio_require_binary

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$MINIO_PORT" "$MINIO_CONSOLE_PORT"; do
  if port_in_use "$port"; then
    echo "minio: port $port is already taken by another process" >&2
    exit 1
  fi
done

http_ok() {
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)' "$1" 2>/dev/null
  fi
}

mkdir -p "$STATE_DIR" "$MINIO_DATA_DIR"
: >"$MINIO_LOG_FILE"
# setsid puts the server in its own session so the caller's Ctrl-C or hangup
# does not reach it; the PID recorded is the server's own.
MINIO_ROOT_USER="$MINIO_ROOT_USER" MINIO_ROOT_PASSWORD="$MINIO_ROOT_PASSWORD" \
  MINIO_SITE_REGION="$MINIO_REGION" MINIO_UPDATE=off MINIO_BROWSER=on \
  setsid "$MINIO_BIN" server "$MINIO_DATA_DIR" \
  --address "0.0.0.0:$MINIO_PORT" \
  --console-address "0.0.0.0:$MINIO_CONSOLE_PORT" \
  >>"$MINIO_LOG_FILE" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$MINIO_PID_FILE"
echo "minio: started $MINIO_RELEASE (pid $pid), waiting for $MINIO_ENDPOINT/minio/health/ready ..."

timeout_s="${MINIO_START_TIMEOUT:-60}"
deadline=$((SECONDS + timeout_s))
fail() {
  echo "minio: $1" >&2
  echo "---- last lines of $MINIO_LOG_FILE ----" >&2
  tail -n 30 "$MINIO_LOG_FILE" >&2 || true
  exit 1
}
until http_ok "$MINIO_ENDPOINT/minio/health/ready"; do
  kill -0 "$pid" 2>/dev/null || { rm -f "$MINIO_PID_FILE"; fail "server exited during startup"; }
  ((SECONDS < deadline)) || fail "not ready after ${timeout_s}s (server left running, pid $pid)"
  sleep 0.5
done

host_ips="$(hostname -I 2>/dev/null | xargs)"
echo "minio: ready on $MINIO_ENDPOINT in $((SECONDS - started)) s; listening on all host addresses (${host_ips:-0.0.0.0}) port $MINIO_PORT"
echo "minio: console http://127.0.0.1:$MINIO_CONSOLE_PORT, user $MINIO_ROOT_USER, region $MINIO_REGION"
echo "minio: log $MINIO_LOG_FILE, data $MINIO_DATA_DIR"
