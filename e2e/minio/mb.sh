#!/usr/bin/env bash
# Creates buckets on the local MinIO server with signed S3 PUT-bucket requests
# (no mc needed). Succeeds when a bucket already exists and is ours.
#   mb.sh <bucket> [bucket...]
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [[ $# -lt 1 ]]; then
  echo "usage: $(basename "$0") <bucket> [bucket...]" >&2
  exit 2
fi
for bucket in "$@"; do
  # S3 bucket naming: 3-63 characters, lower case letters, digits, dots and hyphens.
  if [[ ! "$bucket" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]]; then
    echo "minio: invalid bucket name '$bucket' (3-63 of a-z 0-9 . -, starting and ending with a letter or digit)" >&2
    exit 2
  fi
done
for bucket in "$@"; do
  "$MINIO_E2E_DIR/s3.sh" mb "$bucket"
done
