#!/usr/bin/env bash
# Installs what the build and tests need: a C toolchain, make, OpenSSL headers and zlib
# (librdkafka is compiled from source by the rdkafka crate), Java 17 and Maven (the test Kafka
# broker in e2e/kafka), Chromium and its WebDriver (the visualizer's real-browser test), npm (the
# visualizer's chart library), and rustfmt/clippy.
set -euo pipefail

need=()
for pkg in build-essential pkg-config libssl-dev zlib1g-dev cmake chromium chromium-driver fonts-dejavu-core lua5.1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]} (run as root or install them)" >&2
    exit 1
  fi
  echo "== installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
# The browser packages, pinned in their package-lock.json files: the visualizer's chart library
# (lightweight-charts) and the REST facade's Swagger UI (swagger-ui-dist).
for dir in workers/visualizer/frontend operator/facade/ui; do
  if ! (cd "$(dirname "$0")/../$dir" && npm ci --no-audit --no-fund --silent >/dev/null); then
    echo "npm ci in $dir failed" >&2
    exit 1
  fi
done
