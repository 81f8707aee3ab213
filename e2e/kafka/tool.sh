#!/usr/bin/env bash
# Runs any Kafka command-line class on the cached classpath, e.g.
#   tool.sh org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
#   tool.sh org.apache.kafka.tools.ConsoleProducer --bootstrap-server 127.0.0.1:9092 --topic t
#   tool.sh org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server 127.0.0.1:9092 --topic t --from-beginning
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kafka_require_libs
if [[ $# -lt 1 ]]; then
  echo "usage: $0 <main class> [args...]" >&2
  exit 2
fi
kafka_tool "$@"
