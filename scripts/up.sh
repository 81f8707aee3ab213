#!/usr/bin/env bash
# One command from a fresh machine to a running pipeline, with no cluster of your own: brings up
# the local single-node Kubernetes (e2e/platform), a Kafka broker and MinIO on this host, the
# exchange simulator, builds the images (images/build.sh) and installs StreamForge with its Helm
# chart (the visualizer on), then applies samples/pipeline.yaml (candles of two symbols into the
# lake, a graph, a GNN, two HTML reports) and prints `kubectl get queues` until every Queue has
# settled, then where the data is. scripts/down.sh stops it all.
#
# Environment: DEMO_NAMESPACE (default streamforge-demo), UP_WAIT_SECONDS (default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
state="$cache/demo-state"
ns="${DEMO_NAMESPACE:-streamforge-demo}"
wait_s="${UP_WAIT_SECONDS:-900}"
kafka_env="KAFKA_PORT=39092 KAFKA_CONTROLLER_PORT=39093 STREAMFORGE_STATE=$state"
minio_env="MINIO_PORT=39000 MINIO_CONSOLE_PORT=39001 STREAMFORGE_STATE=$state"
sim_port=39400

echo "== up: packages"
bash scripts/setup.sh
echo "== up: Kubernetes (e2e/platform)"
bash e2e/platform/up.sh
source e2e/platform/common.sh
host_ip="$(cat "$HOST_IP_FILE")"
k() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
# Pods reach this host's services at the pod bridge's gateway.
gateway=10.88.0.1

echo "== up: Kafka ($host_ip:39092) and MinIO ($gateway:39000) on this host"
env $kafka_env KAFKA_ADVERTISED_HOST="$host_ip" bash e2e/kafka/start.sh
env $minio_env bash e2e/minio/start.sh

echo "== up: images"
export CONTAINERD_ADDRESS="$CONTAINERD_SOCK"
IMAGE_TAG=local bash images/build.sh --import

echo "== up: exchange simulator (http://$gateway:$sim_port)"
mkdir -p "$state"
sim_pid_file="$state/binance-sim.pid"
if [[ -f "$sim_pid_file" ]] && kill -0 "$(cat "$sim_pid_file")" 2>/dev/null; then
  echo "binance-sim: already running (pid $(cat "$sim_pid_file"))"
else
  nohup "${CARGO_TARGET_DIR:-$cache/target}/release/binance-sim" --addr "0.0.0.0:$sim_port" \
    >"$state/binance-sim.log" 2>&1 &
  echo $! >"$sim_pid_file"
fi

echo "== up: StreamForge (charts/streamforge)"
helm="$(bash scripts/install-helm.sh)"
MINIO_PORT=39000 source e2e/minio/common.sh
# The store's credentials where workers run (the Queues' namespace) and for the visualizer.
for namespace in "$ns" streamforge; do
  k create namespace "$namespace" --dry-run=client -o yaml | k apply -f - >/dev/null
  k -n "$namespace" create secret generic streamforge-minio \
    --from-literal=accessKey="$MINIO_ROOT_USER" --from-literal=secretKey="$MINIO_ROOT_PASSWORD" \
    --dry-run=client -o yaml | k apply -f - >/dev/null
done
"$helm" --kubeconfig "$KUBECONFIG_ADMIN" upgrade --install streamforge charts/streamforge \
  --namespace streamforge --create-namespace --wait --timeout 5m \
  --set image.tag=local --set image.pullPolicy=Never \
  --set kafka.bootstrapServers="$host_ip:39092" --set kafka.workerSecret= --set arango.workerSecret= \
  --set lake.endpoint="http://$gateway:39000" --set arango.url= \
  --set binance.baseUrl="http://$gateway:$sim_port" --set binance.wsUrl="ws://$gateway:$sim_port" \
  --set visualizer.enabled=true --set facade.enabled=true
# Images rebuilt under the same tag on a second run need new pods.
for d in operator visualizer facade; do
  k -n streamforge rollout restart "deploy/streamforge-$d" >/dev/null
  k -n streamforge rollout status "deploy/streamforge-$d" --timeout=180s
done

echo "== up: samples/pipeline.yaml in namespace $ns"
# A fresh run each time: Queues left from an earlier one are removed first.
k -n "$ns" delete queues --all --wait=true >/dev/null
k -n "$ns" apply -f samples/pipeline.yaml
deadline=$((SECONDS + wait_s))
while :; do
  echo "--- $(date +%T)"
  k -n "$ns" get queues
  phases="$(k -n "$ns" get queues -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}')"
  if ! grep -qvE '^(Succeeded|Failed)$' <<<"$phases"; then break; fi
  if ((SECONDS > deadline)); then
    echo "up: not every Queue settled in ${wait_s}s; look with: kubectl describe queue" >&2
    break
  fi
  sleep 10
done

viz_ip="$(k -n streamforge get svc streamforge-visualizer -o jsonpath='{.spec.clusterIP}')"
facade_ip="$(k -n streamforge get svc streamforge-facade -o jsonpath='{.spec.clusterIP}')"
cat <<EOF

StreamForge runs (up in $((SECONDS - started)) s).
  kubectl:     $BIN_DIR/kubectl --kubeconfig $KUBECONFIG_ADMIN -n $ns get queues
  the lake:    s3://streamforge/symbol=*/ on http://127.0.0.1:39000 (user $MINIO_ROOT_USER, password $MINIO_ROOT_PASSWORD)
               MINIO_PORT=39000 bash e2e/minio/s3.sh ls streamforge
  reports:     $(k -n "$ns" get queue pipeline-report-candles -o jsonpath='{.status.outputPath}' 2>/dev/null || true)
               $(k -n "$ns" get queue pipeline-report-graph -o jsonpath='{.status.outputPath}' 2>/dev/null || true)
  visualizer:  http://$viz_ip/      (from this host)
  REST facade: http://$facade_ip/docs/
  Kafka:       $host_ip:39092
Stop it all: bash scripts/down.sh
EOF
