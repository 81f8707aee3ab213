# Shared settings for the local MinIO scripts. Sourced, not executed.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this

MINIO_E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# MinIO tags its releases RELEASE.<timestamp>, which is not semver, so the Go
# module proxy only knows them as pseudo-versions. This is the pseudo-version
# of the commit tagged RELEASE.2025-09-07T16-13-09Z.
MINIO_RELEASE="RELEASE.2025-09-07T16-13-09Z"
MINIO_MODULE="github.com/minio/minio"
MINIO_MODULE_VERSION="v0.0.0-20250907161309-07c3a429bfed"
MINIO_COMMIT="07c3a429bfed433e49018cb0f78a52145d4bedeb"

STREAMFORGE_CACHE_DIR="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
MINIO_HOME_DIR="$STREAMFORGE_CACHE_DIR/minio/$MINIO_RELEASE"
MINIO_BIN="$MINIO_HOME_DIR/minio"
MINIO_BUILD_STAMP="$MINIO_HOME_DIR/.built"

STATE_DIR="${STREAMFORGE_STATE:-$STREAMFORGE_CACHE_DIR/state}"
MINIO_STATE_DIR="$STATE_DIR/minio"
MINIO_DATA_DIR="$MINIO_STATE_DIR/data"
MINIO_PID_FILE="$STATE_DIR/minio.pid"
MINIO_LOG_FILE="$STATE_DIR/minio.log"

MINIO_PORT="${MINIO_PORT:-9000}"
MINIO_CONSOLE_PORT="${MINIO_CONSOLE_PORT:-9001}"
MINIO_ROOT_USER="${MINIO_ROOT_USER:-streamforge}"
MINIO_ROOT_PASSWORD="${MINIO_ROOT_PASSWORD:-streamforge-secret}"
MINIO_REGION="${MINIO_REGION:-us-east-1}"
MINIO_ENDPOINT="http://127.0.0.1:$MINIO_PORT"

# Prints the recorded server PID if that process is alive and is a MinIO
# server (guards against a stale pid file whose number was reused).
minio_running_pid() {
  local pid
  [[ -f "$MINIO_PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$MINIO_PID_FILE")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'minio server'; then
    return 1
  fi
  echo "$pid"
}

# The go command: $GO, else go on PATH, else the usual /usr/local/go install.
minio_go() {
  if [[ -n "${GO:-}" ]]; then
    echo "$GO"
  elif command -v go >/dev/null; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    return 1
  fi
}

minio_require_binary() {
  if [[ ! -x "$MINIO_BIN" || ! -f "$MINIO_BUILD_STAMP" ]]; then
    echo "minio: $MINIO_BIN is not built; run e2e/minio/fetch.sh" >&2
    exit 1
  fi
}
