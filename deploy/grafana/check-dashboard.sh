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
#   * Prometheus (scripts/install-prometheus.sh builds it from its Go module, once; PROMETHEUS
#     names another) with a static scrape configuration of those ports, scraping every second. Worker targets get the labels
#     the chart's PodMonitor puts on them from pod labels (queue, run, role, family, namespace).
#
# With WORKER_PODS=1 (e2e/run.sh, after its scenarios) the workers are pods of the platform
# instead of host processes: the simulator listens on SIM_ADDR (where the chart's values send
# the loaders), a Queue (a loader of three years of 1m candles and its lake sink) runs in a
# namespace of its own (WORKERS_NAMESPACE, default obs-workers, enforcing the `restricted` Pod
# Security Standard), reconciled by the platform's operator, and Prometheus finds its pods
# through the Kubernetes API with the scrape job the Prometheus Operator makes of the chart's
# PodMonitor (podmonitor_scrape.py on `helm template` of the chart with VALUES). The worker
# queries are then answered by those pods alone. Needs HELM, PYTHON (with PyYAML; e2e/lake/setup.sh
# makes one) and WORKERS_KAFKA (the broker the pods write to, for the dead-letter records).
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
WORKER_PODS="${WORKER_PODS:-0}"
WNS="${WORKERS_NAMESPACE:-obs-workers}"
WORK="$(mktemp -d /tmp/obs-check.XXXXXX)"

pids=()
made_namespace=""
made_workers_namespace=""
cleanup() {
  local rc=$?
  if [[ -n "$made_workers_namespace" ]]; then
    # The Queue first, while the simulator still answers its loader: the operator stops it.
    kubectl --kubeconfig "$KUBECONFIG_FILE" -n "$WNS" delete queues --all --timeout=90s >/dev/null 2>&1 || true
    kubectl --kubeconfig "$KUBECONFIG_FILE" delete namespace "$WNS" --wait=false >/dev/null 2>&1 || true
  fi
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

# --- Prometheus, built from its Go module with Kubernetes discovery ----------------------------
PROMETHEUS="${PROMETHEUS:-$(bash "$ROOT/scripts/install-prometheus.sh")}"
say "$("$PROMETHEUS" --version 2>&1 | head -1)"

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
if [[ "$WORKER_PODS" == 1 ]]; then
  [[ -n "$operator" ]] || { echo "WORKER_PODS=1 needs the platform's API server" >&2; exit 1; }
  : "${HELM:?WORKER_PODS=1 needs HELM}" "${PYTHON:?WORKER_PODS=1 needs PYTHON}" "${WORKERS_KAFKA:?WORKER_PODS=1 needs WORKERS_KAFKA}"
  kube_version="$(kubectl --kubeconfig "$KUBECONFIG_FILE" version -o json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
  # The chart's PodMonitor as the install renders it, as the Prometheus Operator would scrape it.
  "$HELM" template streamforge "$ROOT/charts/streamforge" -n streamforge --kube-version "$kube_version" \
    -f "${VALUES:-$ROOT/e2e/helm-values.yaml}" --set monitoring.enabled=true \
    --show-only templates/monitoring.yaml >"$WORK/monitoring.yaml"
  "$PYTHON" "$ROOT/deploy/grafana/podmonitor_scrape.py" "$KUBECONFIG_FILE" 1s \
    <"$WORK/monitoring.yaml" >"$WORK/podmonitor-jobs.yaml"
fi
{
  echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
  echo "scrape_configs:"
  if [[ "$WORKER_PODS" == 1 ]]; then
    sed 's/^/  /' "$WORK/podmonitor-jobs.yaml"
  else
    echo "  - job_name: streamforge/streamforge-workers"
    echo "    static_configs:"
    echo "      - targets: ['127.0.0.1:$LOADER_PORT']"
    echo "        labels: {$worker_labels, role: main, family: loader-api-candles}"
    echo "      - targets: ['127.0.0.1:$SINK_PORT']"
    echo "        labels: {$worker_labels, role: sink, family: lake-connector}"
  fi
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
"$PROMETHEUS" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
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
# A message no sink can store, to <broker> <topic>: dead-lettered with reason `json`.
bad_record() {
  printf 'obs-check-bad|this is not JSON\n' | kafka org.apache.kafka.tools.ConsoleProducer \
    --bootstrap-server "$1" --topic "$2" --reader-property parse.key=true --reader-property key.separator='|'
}
if [[ "$WORKER_PODS" == 1 ]]; then
  k() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
  "$BIN/binance-sim" --addr "${SIM_ADDR:-0.0.0.0:29400}" >"$WORK/binance-sim.log" 2>&1 &
  pids+=($!)
  if ! k get namespace "$WNS" >/dev/null 2>&1; then
    k create namespace "$WNS" >/dev/null
  fi
  made_workers_namespace=1
  k label --overwrite namespace "$WNS" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest >/dev/null
  POD_DATA="$ID-pods-data"
  # The lake sink's S3 keys (the test MinIO's), then a loader of three years of 1m candles: at
  # the platform's weight budget it loads two pages a minute, still loading while scraped.
  k -n "$WNS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: streamforge-minio}
stringData: {accessKey: "${MINIO_ROOT_USER:-streamforge}", secretKey: "${MINIO_ROOT_PASSWORD:-streamforge-secret}"}
---
apiVersion: streamforge.io/v1alpha1
kind: Queue
metadata: {name: obs-candles}
spec:
  target: loader-producer
  type: api_candles_1m
  symbol: BTCUSDT
  timeRange: "2021-01-01:2024-01-01"
  kafkaTopic: $POD_DATA
  sinks: [lake]
YAML
  say "Queue $WNS/obs-candles applied; waiting for its loader and lake sink pods"
  running=0
  for _ in $(seq 1 120); do
    running="$(k -n "$WNS" get pods -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx Running || true)"
    ((running >= 2)) && break
    sleep 1
  done
  k -n "$WNS" get pods -o wide | sed 's/^/   /'
  ((running >= 2)) || { echo "the Queue's two worker pods are not running" >&2; k -n "$WNS" get queue obs-candles -o yaml >&2; exit 1; }
  bad_record "$WORKERS_KAFKA" "$POD_DATA"
  sleep 10
  bad_record "$WORKERS_KAFKA" "$POD_DATA"
  say "worker pods running, two bad records sent to $POD_DATA"
else
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

  # Dead-lettered: one before the start, one well after, so that the rate sees the counter grow.
  bad_record "$BROKER" "$DATA"
  # `start` for every worker of the run (an empty telemetry id), as the operator sends it.
  now="$(date +%s)"
  printf '%s|{"command":"start","queue_id":"%s","target":"","symbol":"BTCUSDT","type":"api_candles_1m","telemetry_id":"","timestamp":%s,"run":1,"command_id":"%s/1/start/all"}\n' \
    "$ID" "$ID" "$now" "$ID" >"$WORK/start.txt"
  kafka org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BROKER" --topic "$CONTROL" \
    --reader-property parse.key=true --reader-property key.separator='|' <"$WORK/start.txt"
  # The second once the sink consumes (it joins its group and dead-letters the first meanwhile).
  sleep 10
  bad_record "$BROKER" "$DATA"
fi
# The loader spends its budget at once and then waits for the next minute (Binance's windows
# are clock minutes): wait past that boundary, so that Prometheus sees it load twice.
wait_s=$((60 - $(date +%s) % 60 + 8))
((wait_s >= SCRAPE_WAIT_S)) || wait_s=$SCRAPE_WAIT_S
say "workers started; waiting ${wait_s}s"
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

# The worker pods, found through the chart's PodMonitor: the worker queries above had no other
# source. Each of the Queue's two pods is up and reports what it did. The lake sink holds back
# a month that is still open (docs/sinks.md, "Holding back"), and January 2021 stays open for
# the whole check: its records count as taken when stored or held.
if [[ "$WORKER_PODS" == 1 ]]; then
  value() {
    curl -sf --data-urlencode "query=$1" "$API/query" |
      python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'
  }
  sel="namespace=\"$WNS\",job=\"streamforge/streamforge-workers\""
  for check in \
    "pods up|count(up{$sel} == 1)|2" \
    "records reported by the loader pod|sum(streamforge_worker_records_reported{$sel,role=\"main\"})|1" \
    "records stored or held by the lake sink pod|sum(streamforge_sink_records_written_total{$sel,family=\"lake-connector\"}) + sum(streamforge_sink_records_held{$sel,family=\"lake-connector\"})|1" \
    "dead letters of the lake sink pod|sum(streamforge_sink_dead_letters_total{$sel})|2"; do
    IFS='|' read -r what expr least <<<"$check"
    got="$(value "$expr")" || got=0
    checked=$((checked + 1))
    if [[ "$got" -ge "$least" ]]; then
      printf 'OK    %s in %s: %s\n' "$what" "$WNS" "$got"
    else
      printf 'FAIL  %s in %s: %s, at least %s expected  (%s)\n' "$what" "$WNS" "$got" "$least" "$expr"
      failed=$((failed + 1))
    fi
  done
fi

say "$checked queries checked, $failed without series, $skipped skipped"
[[ $failed -eq 0 ]]
