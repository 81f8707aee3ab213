#!/usr/bin/env bash
# Runs s3.py (a small signed S3 client) against the local MinIO server with
# the root credentials and port from the same environment start.sh uses.
#   s3.sh mb <bucket> | ls [bucket [prefix]] | put <bucket> <key> <file|-> | cat <bucket> <key> | rm <bucket> <key>
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

command -v python3 >/dev/null || { echo "minio: python3 is needed for s3.py" >&2; exit 1; }
S3_ENDPOINT="${S3_ENDPOINT:-$MINIO_ENDPOINT}" \
  S3_ACCESS_KEY="${S3_ACCESS_KEY:-$MINIO_ROOT_USER}" \
  S3_SECRET_KEY="${S3_SECRET_KEY:-$MINIO_ROOT_PASSWORD}" \
  S3_REGION="${S3_REGION:-$MINIO_REGION}" \
  exec python3 "$MINIO_E2E_DIR/s3.py" "$@"
