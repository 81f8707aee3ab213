#!/usr/bin/env bash
# Stops what e2e/run.sh started: the platform, the pods' Kafka broker and MinIO (by recorded PIDs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash e2e/platform/down.sh || true
state="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/e2e-state"
STREAMFORGE_STATE="$state" KAFKA_PORT=29092 KAFKA_CONTROLLER_PORT=29093 bash e2e/kafka/stop.sh || true
STREAMFORGE_STATE="$state" MINIO_PORT=29000 bash e2e/minio/stop.sh || true
