#!/usr/bin/env bash
# The end-to-end suite, from nothing: brings up the local platform (e2e/platform), a Kafka
# broker reachable from pods, builds the operator and worker images from images/Dockerfile and imports them,
# installs the operator with its Helm chart (charts/streamforge, values e2e/helm-values.yaml)
# and upgrades it,
# then runs the scenarios in e2e/suite one at a time. Leaves the platform running for a look
# afterwards unless E2E_DOWN=1; e2e/down.sh stops it all.
#
# Figures of the 100-Queue scenario go to $STREAMFORGE_CACHE/e2e-figures.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"

echo "== e2e: platform"
bash e2e/platform/up.sh
source e2e/platform/common.sh
host_ip="$(cat "$HOST_IP_FILE")"
kubectl="$BIN_DIR/kubectl"
k() { "$kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

echo "== e2e: Kafka broker for pods ($host_ip:29092)"
# Their state apart from the platform's and from the unit tests' broker.
services="KAFKA_PORT=29092 KAFKA_CONTROLLER_PORT=29093 KAFKA_ADVERTISED_HOST=$host_ip STREAMFORGE_STATE=$cache/e2e-state"
env $services bash e2e/kafka/start.sh
echo "== e2e: MinIO for pods ($host_ip:29000)"
env STREAMFORGE_STATE="$cache/e2e-state" MINIO_PORT=29000 MINIO_CONSOLE_PORT=29001 bash e2e/minio/start.sh

echo "== e2e: images (images/Dockerfile, built with buildah on a Debian base made here)"
export CONTAINERD_ADDRESS="$CONTAINERD_SOCK"
IMAGE_TAG=e2e bash images/build.sh --import
# shellcheck source=../scripts/torch-env.sh
source scripts/torch-env.sh

echo "== e2e: operator from the Helm chart (charts/streamforge, values e2e/helm-values.yaml)"
helm="$(bash scripts/install-helm.sh)"
h() { "$helm" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
# A platform left from an install made with kubectl (manifests/), or from an uninstalled release,
# has objects Helm does not own. The CRD is adopted, never deleted: deleting it deletes every
# Queue, and with no operator running their finalizers would hold the deletion for ever.
if ! h status streamforge -n streamforge >/dev/null 2>&1; then
  k -n streamforge delete deployment,configmap,serviceaccount,service,role,rolebinding,poddisruptionbudget \
    -l app.kubernetes.io/part-of=streamforge --ignore-not-found --wait=true >/dev/null
  k delete clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding \
    -l app.kubernetes.io/part-of=streamforge --ignore-not-found >/dev/null
  if k get crd queues.streamforge.io >/dev/null 2>&1; then
    k annotate --overwrite crd queues.streamforge.io meta.helm.sh/release-name=streamforge \
      meta.helm.sh/release-namespace=streamforge >/dev/null
    k label --overwrite crd queues.streamforge.io app.kubernetes.io/managed-by=Helm >/dev/null
  fi
fi
# Installed first with an older setting, then upgraded to the suite's values: the upgrade must
# roll the operator (its ConfigMap's checksum) and keep the CRD; the scenarios run on it.
h upgrade --install streamforge charts/streamforge -n streamforge --create-namespace \
  -f e2e/helm-values.yaml --set workers.stopGraceSeconds=30 --wait --timeout 5m
h upgrade streamforge charts/streamforge -n streamforge -f e2e/helm-values.yaml --wait --timeout 5m
[[ "$(k -n streamforge get configmap streamforge-operator -o jsonpath='{.data.STOP_GRACE_SECONDS}')" == 20 ]] \
  || { echo "e2e: helm upgrade did not change STOP_GRACE_SECONDS" >&2; exit 1; }
# A changed image under the same tag needs a new pod.
k -n streamforge rollout restart deployment/streamforge-operator
k -n streamforge rollout status deployment/streamforge-operator --timeout=180s
h status streamforge -n streamforge | sed -n '1,6p'

echo "== e2e: scenarios"
export STREAMFORGE_E2E_KUBECONFIG="$KUBECONFIG_ADMIN" STREAMFORGE_E2E_KUBECTL="$kubectl"
export STREAMFORGE_E2E_KAFKA="$host_ip:29092"
export STREAMFORGE_E2E_KAFKA_STOP="env $services bash e2e/kafka/stop.sh"
export STREAMFORGE_E2E_KAFKA_START="env $services bash e2e/kafka/start.sh"
export STREAMFORGE_E2E_KAFKA_RESTART="$STREAMFORGE_E2E_KAFKA_STOP && sleep 5 && $STREAMFORGE_E2E_KAFKA_START"
# The run-protocol scenarios read the lake back with pyarrow, from MinIO on this host.
STREAMFORGE_E2E_PYTHON="$(bash e2e/lake/setup.sh | tail -n1)"
export STREAMFORGE_E2E_PYTHON STREAMFORGE_E2E_S3="http://127.0.0.1:29000"
log="$(mktemp)"
status=0
# scenarios.rs (the dummy worker) then run_protocol.rs (the real workers); E2E_FILTER picks some.
cargo test --locked -p streamforge-e2e --tests -- --test-threads=1 --nocapture ${E2E_FILTER:-} 2>&1 | tee "$log" || status=$?
grep '^FIGURES' "$log" | tee "$cache/e2e-figures.txt" || true
if [[ $status -eq 0 ]]; then
  echo "== e2e: every query of the Grafana dashboard against a real Prometheus (deploy/grafana/check-dashboard.sh)"
  # The release binaries images/build.sh built; the platform's API server for the operator's.
  # The platform's operator pods too (pod IPs on the bridge this host is on).
  # The workers are pods of a Queue there, found through the chart's PodMonitor.
  OPERATOR_POD_TARGETS="$(k -n streamforge get pods -l app.kubernetes.io/name=streamforge-operator \
    -o jsonpath='{range .items[*]}{.status.podIP}:8080 {end}')" \
    WORKER_PODS=1 HELM="$helm" PYTHON="$STREAMFORGE_E2E_PYTHON" WORKERS_KAFKA="$host_ip:29092" \
    SIM_ADDR="0.0.0.0:29400" NO_BUILD=1 bash deploy/grafana/check-dashboard.sh || status=$?
fi
if [[ $status -eq 0 && -z "${E2E_FILTER:-}" ]]; then
  echo "== e2e: helm uninstall with a live Queue; the post-delete hook releases its finalizer"
  bash e2e/uninstall-check.sh || status=$?
fi
rm -f "$log"
if [[ $status -ne 0 ]]; then
  echo "e2e: FAILED; operator log: $kubectl --kubeconfig $KUBECONFIG_ADMIN -n streamforge logs deploy/streamforge-operator" >&2
  k -n streamforge logs deploy/streamforge-operator --tail=40 >&2 || true
fi
if [[ "${E2E_DOWN:-0}" == 1 ]]; then bash e2e/down.sh; fi
echo "e2e: done in $((SECONDS - started)) s"
exit "$status"
