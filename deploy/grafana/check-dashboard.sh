#!/usr/bin/env bash
# Runs every query of deploy/grafana/streamforge.json against a real Prometheus that scrapes
# real StreamForge processes, and fails if one returns no series.
#
# What runs, all on this host, on loopback ports, with topics of its own (<id>-control,
# <id>-events, <id>-data) on the test broker:
#   * binance-sim (the exchange simulator), a loader (api_candles_1m, a long range, a small
#     weight budget so that it is still loading while Prometheus scrapes) and a lake sink
#     (LAKE_DIR in a temporary directory) on its data topic; both get their `start` on the
#     control topic, as from the operator; one message that is not JSON goes to the data topic
#     so that the sink dead-letters it;
#   * the operator, when the platform's API server answers (its admin kubeconfig): not leading
#     (LEADER_ELECTION=false) and watching only a namespace of its own (obs-check, made and
#     deleted here), so it never touches another Queue. No Queue is created there (the
#     platform's own operator watches every namespace and would reconcile it too): the
#     operator's series are there with the values of an empty namespace (0 Queues, 0 errors).
#     Without the platform the operator's queries are skipped, and said so;
#   * Debian's prometheus (installed if missing, its service kept from running) with a static
#     scrape configuration of those ports, scraping every second. Worker targets get the labels
#     the chart's PodMonitor puts on them from pod labels (queue, run, role, family, namespace).
#
# Environment: CARGO_TARGET_DIR (the release binaries are built there, then copied; NO_BUILD=1
# takes them as they are), KAFKA_BOOTSTRAP (default 127.0.0.1:19092; started with e2e/kafka/start.sh if it does
# not answer), PLATFORM_KUBECONFIG (default ~/.cache/streamforge/state/platform/admin.kubeconfig),
# OBS_NAMESPACE (default obs-check), OPERATOR_POD_TARGETS (host:port of the platform's operator
# pods, e.g. their pod IPs and 8080, scraped too; e2e/run.sh passes them), SCRAPE_WAIT_S (the least wait for scrapes, default 20; the
# check waits past the next clock minute too), KEEP=1 keeps the work directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DASHBOARD="$ROOT/deploy/grafana/streamforge.json"
TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
BIN="$TARGET_DIR/release"
BROKER="${KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
KUBECONFIG_FILE="${PLATFORM_KUBECONFIG:-$HOME/.cache/streamforge/state/platform/admin.kubeconfig}"
NS="${OBS_NAMESPACE:-obs-check}"
SCRAPE_WAIT_S="${SCRAPE_WAIT_S:-20}"
ID="obs-check-$(date +%s)"
WORK="$(mktemp -d /tmp/obs-check.XXXXXX)"

pids=()
made_namespace=""
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n "$made_namespace" ]]; then
    kubectl --kubeconfig "$KUBECONFIG_FILE" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  fi
  if [[ "${KEEP:-0}" == 1 || $rc -ne 0 ]]; then
    echo "work directory (logs): $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

say() { echo "== $*"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# --- Prometheus (Debian's package), never as a service --------------------------------------
if ! command -v prometheus >/dev/null; then
  say "installing Debian's prometheus"
  before="$(pgrep -x prometheus || true)"
  # No service start during the installation: policy-rc.d says no to invoke-rc.d. An existing
  # policy file is left as it is.
  own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >"$WORK/apt.log" 2>&1 \
    || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >"$WORK/apt.log" 2>&1; }
  [[ -n "$own_policy" ]] && rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  # A server the package started anyway (not one that ran before): stopped.
  for p in $(pgrep -x prometheus || true); do
    grep -qx "$p" <<<"$before" || kill "$p" 2>/dev/null || true
  done
fi
say "$(prometheus --version 2>&1 | head -1)"

# --- binaries ----------------------------------------------------------------------------------
# Built from this tree (a no-op when they are up to date) and copied at once: another checkout
# that builds into the same target directory cannot swap them under the running check.
if [[ "${NO_BUILD:-0}" != 1 ]]; then
  say "building binance-sim, loader, lake-connector, streamforge-operator (release)"
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet --bin binance-sim \
    --bin loader --bin lake-connector --bin streamforge-operator)
fi
mkdir -p "$WORK/bin"
for b in binance-sim loader lake-connector streamforge-operator; do
  cp "$BIN/$b" "$WORK/bin/$b"
done
BIN="$WORK/bin"

# --- Kafka -------------------------------------------------------------------------------------
if ! port_open "$BROKER"; then
  say "starting the test broker on $BROKER"
  KAFKA_PORT="${BROKER##*:}" KAFKA_CONTROLLER_PORT="$((${BROKER##*:} + 1))" \
    STREAMFORGE_STATE="${STREAMFORGE_STATE:-$HOME/.cache/streamforge/test-state}" \
    bash "$ROOT/e2e/kafka/start.sh"
fi
kafka() { KAFKA_TOOL_TIMEOUT=60 bash "$ROOT/e2e/kafka/tool.sh" "$@"; }
CONTROL="$ID-control"
EVENTS="$ID-events"
DATA="$ID-data"
for t in "$CONTROL" "$EVENTS" "$DATA"; do
  kafka org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" --create --if-not-exists \
    --topic "$t" --partitions 3 --replication-factor 1 >/dev/null
done
say "topics $CONTROL, $EVENTS, $DATA on $BROKER"

# --- Prometheus first, so that it sees the run from its start -----------------------------------
SIM_PORT="$(free_port)"
LOADER_PORT="$(free_port)"
SINK_PORT="$(free_port)"
OPERATOR_PORT="$(free_port)"
PROM_PORT="$(free_port)"
operator=""
if [[ -r "$KUBECONFIG_FILE" ]] && kubectl --kubeconfig "$KUBECONFIG_FILE" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then
  operator=1
else
  say "the platform's API server does not answer ($KUBECONFIG_FILE): no operator; its queries are skipped"
fi
worker_labels="namespace: $NS, queue: $ID, run: '1'"
{
  echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
  echo "scrape_configs:"
  echo "  - job_name: streamforge/streamforge-workers"
  echo "    static_configs:"
  echo "      - targets: ['127.0.0.1:$LOADER_PORT']"
  echo "        labels: {$worker_labels, role: main, family: loader-api-candles}"
  echo "      - targets: ['127.0.0.1:$SINK_PORT']"
  echo "        labels: {$worker_labels, role: sink, family: lake-connector}"
  if [[ -n "$operator" ]]; then
    echo "  - job_name: streamforge-operator-metrics"
    echo "    static_configs:"
    echo "      - targets: ['127.0.0.1:$OPERATOR_PORT']"
    for t in ${OPERATOR_POD_TARGETS:-}; do
      echo "      - targets: ['$t']"
      echo "        labels: {source: platform}"
    done
  fi
} >"$WORK/prometheus.yml"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
pids+=($!)
API="http://127.0.0.1:$PROM_PORT/api/v1"
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null && break
  sleep 0.5
done
say "prometheus :$PROM_PORT scraping every 1s"

# --- the operator, on its own namespace ---------------------------------------------------------
if [[ -n "$operator" ]]; then
  if ! kubectl --kubeconfig "$KUBECONFIG_FILE" get namespace "$NS" >/dev/null 2>&1; then
    kubectl --kubeconfig "$KUBECONFIG_FILE" create namespace "$NS" >/dev/null
    made_namespace=1
  fi
  KUBECONFIG="$KUBECONFIG_FILE" WATCH_NAMESPACE="$NS" LEADER_ELECTION=false \
    HTTP_ADDR="127.0.0.1:$OPERATOR_PORT" KAFKA_BOOTSTRAP_SERVERS="$BROKER" \
    QUEUE_CONTROL_TOPIC="$CONTROL" QUEUE_EVENTS_TOPIC="$EVENTS" LOG_FORMAT=json \
    "$BIN/streamforge-operator" >"$WORK/operator.log" 2>&1 &
  pids+=($!)
  say "operator :$OPERATOR_PORT watching namespace $NS only, not leading"
fi

# --- the workers ---------------------------------------------------------------------------------
"$BIN/binance-sim" --addr "127.0.0.1:$SIM_PORT" >"$WORK/binance-sim.log" 2>&1 &
pids+=($!)
# Telemetry ids of this check only: the sink's consumer group is its telemetry id, and a group
# left by a killed sink of an earlier check would hold the partitions until its session expires.
common_env=(
  QUEUE_ID="$ID" SYMBOL=BTCUSDT TYPE=api_candles_1m TIME_RANGE=2021-01-01:2024-01-01
  KAFKA_TOPIC="$DATA" KAFKA_BOOTSTRAP_SERVERS="$BROKER" QUEUE_CONTROL_TOPIC="$CONTROL"
  QUEUE_EVENTS_TOPIC="$EVENTS" RUN=1 LOG_FORMAT=json RUST_LOG=info,rdkafka=warn
)
env "${common_env[@]}" TELEMETRY_PRODUCER_ID="lake-connector__$ID" \
  PRODUCER_TELEMETRY_ID="loader-api-candles__$ID" LAKE_DIR="$WORK/lake" BATCH_WAIT_MS=1000 \
  METRICS_ADDR="127.0.0.1:$SINK_PORT" "$BIN/lake-connector" >"$WORK/lake-connector.log" 2>&1 &
pids+=($!)
# A small weight budget: the loader spends it at the start of each minute, then waits.
env "${common_env[@]}" TELEMETRY_PRODUCER_ID="loader-api-candles__$ID" \
  BINANCE_BASE_URL="http://127.0.0.1:$SIM_PORT" WEIGHT_BUDGET=300 TELEMETRY_EVERY_SECS=1 \
  METRICS_ADDR="127.0.0.1:$LOADER_PORT" "$BIN/loader" >"$WORK/loader.log" 2>&1 &
pids+=($!)

# A message the sink cannot store: dead-lettered with reason `json` (one before the start, one
# well after, so that the rate sees the counter grow).
bad_record() {
  printf 'obs-check-bad|this is not JSON\n' | kafka org.apache.kafka.tools.ConsoleProducer \
    --bootstrap-server "$BROKER" --topic "$DATA" --reader-property parse.key=true --reader-property key.separator='|'
}
bad_record
# `start` for every worker of the run (an empty telemetry id), as the operator sends it.
now="$(date +%s)"
printf '%s|{"command":"start","queue_id":"%s","target":"","symbol":"BTCUSDT","type":"api_candles_1m","telemetry_id":"","timestamp":%s,"run":1,"command_id":"%s/1/start/all"}\n' \
  "$ID" "$ID" "$now" "$ID" >"$WORK/start.txt"
kafka org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BROKER" --topic "$CONTROL" \
  --reader-property parse.key=true --reader-property key.separator='|' <"$WORK/start.txt"
# The second once the sink consumes (it joins its group and dead-letters the first meanwhile).
sleep 10
bad_record
# The loader spends its budget at once and then waits for the next minute (Binance's windows
# are clock minutes): wait past that boundary, so that Prometheus sees it load twice.
wait_s=$((60 - $(date +%s) % 60 + 8))
((wait_s >= SCRAPE_WAIT_S)) || wait_s=$SCRAPE_WAIT_S
say "loader :$LOADER_PORT and lake sink :$SINK_PORT started; start and two bad records sent; waiting ${wait_s}s"
sleep "$wait_s"
curl -sf "$API/targets" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print("   target", t["labels"]["job"], t["scrapeUrl"], t["health"], t.get("lastError", ""))'

# --- the dashboard's queries -------------------------------------------------------------------
OPERATOR_ONLY='streamforge_(queues|reconciles_total|reconcile_errors_total|status_patches_total|operator_build_info)'
failed=0
checked=0
skipped=0
while IFS= read -r expr; do
  if [[ -z "$operator" ]] && grep -Eq "$OPERATOR_ONLY" <<<"$expr"; then
    printf 'SKIP  (no operator)  %s\n' "$expr"
    skipped=$((skipped + 1))
    continue
  fi
  # "<series> <values of the first few series>"
  answer="$(curl -sf --data-urlencode "query=$expr" "$API/query" | python3 -c '
import json, sys
r = json.load(sys.stdin)
if r.get("status") != "success":
    print(-1)
else:
    res = r["data"]["result"]
    vals = ["%g" % float(s["value"][1]) for s in res[:4]]
    print(len(res), "values: " + ", ".join(vals) + (", ..." if len(res) > 4 else ""))')" || answer=-1
  n="${answer%% *}"
  checked=$((checked + 1))
  if [[ "$n" -gt 0 ]]; then
    printf 'OK    %3d series  %s  (%s)\n' "$n" "$expr" "${answer#* }"
  else
    printf 'FAIL  %3d series  %s\n' "$n" "$expr"
    failed=$((failed + 1))
  fi
done < <(python3 -c '
import json, sys
for p in json.load(open(sys.argv[1]))["panels"]:
    for t in p.get("targets", []):
        print(t["expr"])' "$DASHBOARD")

# The platform's own operator pods, after the e2e scenarios: the leader has reconciled, and its
# series carry the values of real work, not the zeros of the namespace of its own above.
if [[ -n "${OPERATOR_POD_TARGETS:-}" ]]; then
  real="$(curl -sf --data-urlencode 'query=sum(streamforge_reconciles_total{source="platform"})' "$API/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)')" || real=0
  checked=$((checked + 1))
  if [[ "$real" -gt 0 ]]; then
    printf 'OK    the platform operator (%s): %s reconciles\n' "$OPERATOR_POD_TARGETS" "$real"
  else
    printf 'FAIL  the platform operator (%s): no reconciles scraped\n' "$OPERATOR_POD_TARGETS"
    failed=$((failed + 1))
  fi
fi

say "$checked queries checked, $failed without series, $skipped skipped"
[[ $failed -eq 0 ]]
