#!/usr/bin/env bash
# The Queue CRD on the oldest Kubernetes it supports (README.md here): builds kube-apiserver and
# kubectl of that release (build.sh, cached), starts etcd and that kube-apiserver on free
# loopback ports with state in a temporary directory, applies crds/queue.yaml and checks that
# the API server keeps and enforces what the CRD declares: every sample Queue is accepted,
# invalid Queues are refused with the CRD's own messages on the fields its rules name, the
# transition rules refuse changes to immutable fields, the selectable fields serve field
# selectors, and the install's admission policy (manifests/queue-policy.yaml) applies and
# refuses what it should. One line per check, then a summary; exits non-zero when a check fails. etcd and
# the API server are stopped on exit.
#
# Environment:
#   MIN_K8S_VERSION  release to check (default: versions.sh)
#   ETCD             etcd binary (default: the platform's, built by e2e/platform/build.sh)
#   KEEP_STATE=1     keep the temporary directory (logs, certificates) for a look afterwards
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=versions.sh
source "$HERE/versions.sh"
VERSION="${MIN_K8S_VERSION:-$MIN_K8S_DEFAULT}"
CACHE_ROOT="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
started=$SECONDS

log() { printf '[min-k8s] %s\n' "$*" >&2; }
die() { printf '[min-k8s] ERROR: %s\n' "$*" >&2; exit 1; }

for b in openssl python3 curl; do
  command -v "$b" >/dev/null 2>&1 || die "$b is needed"
done

bin_dir="$(MIN_K8S_VERSION="$VERSION" bash "$HERE/build.sh" | tail -n1)"
APISERVER="$bin_dir/kube-apiserver"
KUBECTL_BIN="$bin_dir/kubectl"
ETCD="${ETCD:-$CACHE_ROOT/platform/bin/etcd}"
if [[ ! -x "$ETCD" ]]; then
  log "no etcd at $ETCD: building the platform binaries (e2e/platform/build.sh)"
  bash "$ROOT/e2e/platform/build.sh"
  [[ -x "$ETCD" ]] || die "e2e/platform/build.sh did not leave etcd at $ETCD"
fi

state="$(mktemp -d -t streamforge-min-k8s.XXXXXX)"
etcd_pid="" apiserver_pid=""
stop() {
  local pid
  for pid in "$apiserver_pid" "$etcd_pid"; do
    [[ -n "$pid" ]] || continue
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ "${KEEP_STATE:-0}" == 1 ]]; then
    log "state kept in $state"
  else
    rm -rf "$state"
  fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Three free loopback ports: etcd's client and peer ports and the API server's.
read -r etcd_port peer_port api_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()')

# Credentials: a self-signed serving certificate for 127.0.0.1 (the kubeconfig trusts exactly
# it), the service-account signing key the API server insists on, and a static admin token.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$state/serving.key" -out "$state/serving.crt" 2>/dev/null \
  || die "openssl could not make the serving certificate"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$state/sa.key" 2>/dev/null
openssl pkey -in "$state/sa.key" -pubout -out "$state/sa.pub" 2>/dev/null
token="$(openssl rand -hex 24)"
printf '%s,min-k8s-admin,min-k8s-admin,"system:masters"\n' "$token" >"$state/tokens.csv"
cat >"$state/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: min-k8s
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $state/serving.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: min-k8s
  context: {cluster: min-k8s, user: admin, namespace: default}
current-context: min-k8s
EOF
kubectl() { "$KUBECTL_BIN" --kubeconfig "$state/kubeconfig" --request-timeout=30s "$@"; }

log "starting etcd on 127.0.0.1:$etcd_port and kube-apiserver $VERSION on 127.0.0.1:$api_port (state $state)"
"$ETCD" --name min-k8s --data-dir "$state/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "min-k8s=http://127.0.0.1:$peer_port" \
  --unsafe-no-fsync --log-level error >"$state/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$etcd_port/health" >/dev/null 2>&1 && break
  kill -0 "$etcd_pid" 2>/dev/null || { tail -n 20 "$state/etcd.log" >&2; die "etcd exited"; }
  sleep 0.3
done
curl -fsS "http://127.0.0.1:$etcd_port/health" >/dev/null || { tail -n 20 "$state/etcd.log" >&2; die "etcd is not healthy"; }

# Only what serving CRDs needs: no controllers, no nodes. The endpoint reconciler is off (it
# would publish the loopback address in the kubernetes Service, which the API refuses).
"$APISERVER" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --endpoint-reconciler-type none \
  --cert-dir "$state/certs" \
  --tls-cert-file "$state/serving.crt" --tls-private-key-file "$state/serving.key" \
  --token-auth-file "$state/tokens.csv" --authorization-mode RBAC \
  --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$state/sa.pub" --service-account-signing-key-file "$state/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --profiling=false --v 1 >"$state/apiserver.log" 2>&1 &
apiserver_pid=$!
ready=0
for _ in $(seq 1 180); do
  kill -0 "$apiserver_pid" 2>/dev/null || { tail -n 30 "$state/apiserver.log" >&2; die "kube-apiserver exited"; }
  if [[ "$(kubectl get --raw /readyz 2>/dev/null)" == ok ]] && kubectl get namespace default >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 1
done
((ready)) || { tail -n 30 "$state/apiserver.log" >&2; die "kube-apiserver not ready within 180 s"; }
server_version="$(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"
log "kube-apiserver $server_version ready after $((SECONDS - started)) s"

# Checks ----------------------------------------------------------------------------------------
passed=0 failed=0
failures=()
pass() { printf 'PASS  %s\n' "$1"; passed=$((passed + 1)); }
fail() {
  printf 'FAIL  %s\n' "$1"
  if [[ -n "${2:-}" ]]; then printf '%s\n' "$2" | head -n 6 | sed 's/^/        /' || true; fi
  failed=$((failed + 1))
  failures+=("$1")
}

# The CRD as users apply it (kubectl's default, strict server-side field validation: a field
# this release does not know is an error, not a silent drop).
if out="$(kubectl apply -f "$ROOT/crds/queue.yaml" 2>&1)"; then
  pass "crds/queue.yaml applies with strict field validation"
else
  fail "crds/queue.yaml applies with strict field validation" "$out"
  # Go on with what this release accepts, to show which of the remaining checks still hold.
  if out2="$(kubectl apply --validate=false -f "$ROOT/crds/queue.yaml" 2>&1)"; then
    log "applied again with --validate=false (unknown fields dropped) to run the other checks"
  else
    fail "crds/queue.yaml applies at all (--validate=false)" "$out2"
  fi
fi
if out="$(kubectl wait --for=condition=Established crd/queues.streamforge.io --timeout=60s 2>&1)"; then
  pass "CRD queues.streamforge.io is Established"
else
  fail "CRD queues.streamforge.io is Established" "$out"
fi
# Wait until the new resource is served (discovery lags Established by a moment).
for _ in $(seq 1 60); do
  kubectl get queues >/dev/null 2>&1 && break
  sleep 0.5
done

rules="$(kubectl get crd queues.streamforge.io -o jsonpath='{range .spec.versions[0].schema.openAPIV3Schema.properties.spec.x-kubernetes-validations[*]}{.fieldPath}{"\n"}{end}' 2>&1 || true)"
if [[ "$(grep -c '^\.' <<<"$rules")" -eq "$(grep -c 'fieldPath:' "$ROOT/crds/queue.yaml")" ]]; then
  pass "the CEL rules keep their fieldPath ($(grep -c '^\.' <<<"$rules") of them)"
else
  fail "the CEL rules keep their fieldPath" "stored: $(tr '\n' ' ' <<<"$rules")"
fi
# The selectable fields the CRD declares (none: the field selector checks below are skipped).
want_selectable="$(awk '/^ *selectableFields:/ { f = 1; next } f && /^ *- jsonPath:/ { print $3; next } f { exit }' \
  "$ROOT/crds/queue.yaml" | tr '\n' ' ')"
want_selectable="${want_selectable% }"
if [[ -n "$want_selectable" ]]; then
  selectable="$(kubectl get crd queues.streamforge.io -o jsonpath='{.spec.versions[0].selectableFields[*].jsonPath}' 2>&1 || true)"
  if [[ "$selectable" == "$want_selectable" ]]; then
    pass "the CRD keeps selectableFields ($want_selectable)"
  else
    fail "the CRD keeps selectableFields ($want_selectable)" "stored: '${selectable}'"
  fi
fi

# Every sample is accepted.
for f in "$ROOT"/samples/*.yaml; do
  name="samples/$(basename "$f")"
  if out="$(kubectl apply --dry-run=server -f "$f" 2>&1)"; then
    pass "$name accepted ($(grep -c . <<<"$out") Queue(s))"
  else
    fail "$name accepted" "$out"
  fi
done

queue() { # name target type symbol [extra spec lines...]
  local name=$1 target=$2 type=$3 symbol=$4
  shift 4
  printf 'apiVersion: streamforge.io/v1alpha1\nkind: Queue\nmetadata:\n  name: %s\nspec:\n  target: %s\n  type: %s\n  symbol: %s\n' \
    "$name" "$target" "$type" "$symbol"
  local line
  for line in "$@"; do printf '  %s\n' "$line"; done
}
accepted() { # description, then the queue() arguments
  local what=$1 out
  shift
  if out="$(queue "$@" | kubectl apply --dry-run=server -f - 2>&1)"; then
    pass "accepted: $what"
  else
    fail "accepted: $what" "$out"
  fi
}
refused() { # description, field, message, then the queue() arguments
  local what=$1 field=$2 message=$3 out
  shift 3
  if out="$(queue "$@" | kubectl apply --dry-run=server -f - 2>&1)"; then
    fail "refused: $what" "the API server accepted it"
  elif grep -qF "$field: " <<<"$out" && grep -qF "$message" <<<"$out"; then
    pass "refused: $what ($field: $message)"
  else
    fail "refused: $what (expected '$field: ... $message')" "$out"
  fi
}

accepted "timeRange of two RFC 3339 instants with offsets" \
  x-instants loader-api-trades api_trades BTCUSDT 'timeRange: "2024-08-01T00:00:00Z/2024-08-01T06:00:00+02:00"'
refused "a visualizer Queue of another type" spec.type \
  "type graph_build is not served by target visualizer; it serves candles_indicators, plot_graph" \
  x-visualizer visualizer graph_build BTCUSDT
refused "an api_* type without timeRange" spec.timeRange \
  "an api_* type loads history and needs a timeRange" \
  x-no-range loader-api-candles api_candles_5m BTCUSDT
refused "a timeRange whose end is before its start (days)" spec.timeRange \
  "timeRange must hold two valid dates or instants with start before end" \
  x-backwards loader-api-candles api_candles_5m BTCUSDT 'timeRange: "2024-08-02:2024-08-01"'
refused "a timeRange whose end equals its start (instants, timestamp())" spec.timeRange \
  "timeRange must hold two valid dates or instants with start before end" \
  x-empty loader-api-trades api_trades BTCUSDT 'timeRange: "2024-08-01T06:00:00+02:00/2024-08-01T04:00:00Z"'
refused "a loader target with a type it does not serve" spec.type \
  "type graph_build is not served by target loader-ws-trades; it serves ws_trades" \
  x-loader-type loader-ws-trades graph_build BTCUSDT
refused "a Binance interval that does not exist" spec.type \
  "type api_candles_7m is not served by target loader-api-candles; it serves api_candles_<interval>, (interval: 1s, 1m," \
  x-interval loader-api-candles api_candles_7m BTCUSDT 'timeRange: "2024-08-01:2024-08-02"'
refused "a generic loader type without its source" spec.source \
  "manual_upload and json_feed need source (where to read)" \
  x-no-source loader-generic manual_upload BTCUSDT
refused "a json_feed without the key field" spec.source.keyField \
  "json_feed needs source.keyField" \
  x-no-key loader-generic json_feed BTCUSDT 'source: {url: "wss://feed.example/ws"}'
accepted "arango-connector with the seed's graph type graph_rsi_vol" \
  x-graph-prep arango-connector graph_rsi_vol BTCUSDT 'timeRange: "2024-08-01:2024-08-02"' 'graphName: g'
refused "sinks on a Queue that is not a loader" spec.sinks \
  "sinks can only be attached to a loader Queue" \
  x-sinks dummy-service dummy_load BTCUSDT 'sinks: [lake]'
refused "a repeated sink" spec.sinks "sinks must not repeat" \
  x-repeat loader-api-candles api_candles_5m BTCUSDT 'timeRange: "2024-08-01:2024-08-02"' 'sinks: [lake, lake]'
refused "graph-builder without graphName" spec.graphName \
  "graph-builder, gnn-trainer and the graph types need graphName" \
  x-no-graph graph-builder graph_build BTCUSDT 'timeRange: "2024-08-01:2024-08-02"'

# Two rules with a fieldPath failing at once: each error names its own field (before
# kubernetes/kubernetes#123475, in 1.30, the second inherited the first one's path:
# spec.timeRange.type).
if out="$(queue x-two visualizer api_candles_5m BTCUSDT | kubectl apply --dry-run=server -f - 2>&1)"; then
  fail "refused: two broken rules, each on its own field" "the API server accepted it"
elif grep -qF "spec.timeRange: Invalid value: \"object\": an api_* type loads history and needs a timeRange" <<<"$out" &&
  grep -qF "spec.type: Invalid value: \"object\": type api_candles_5m is not served by target visualizer" <<<"$out"; then
  pass "refused: two broken rules, each on its own field (spec.timeRange, spec.type)"
else
  fail "refused: two broken rules, each on its own field (spec.timeRange, spec.type)" "$out"
fi

# Transition rules: real objects this time, then updates.
if out="$(queue min-k8s-btc loader-api-candles api_candles_5m BTCUSDT 'timeRange: "2024-08-01:2024-08-02"' |
  kubectl create -f - 2>&1)" && out2="$(queue min-k8s-eth dummy-service dummy_load ETHUSDT | kubectl create -f - 2>&1)"; then
  pass "two Queues created (min-k8s-btc, min-k8s-eth)"
else
  fail "two Queues created (min-k8s-btc, min-k8s-eth)" "$out ${out2:-}"
fi
update_refused() { # description, patch, field, message
  local what=$1 patch=$2 field=$3 message=$4 out
  if out="$(kubectl patch queue min-k8s-btc --type merge -p "$patch" 2>&1)"; then
    fail "update refused: $what" "the API server accepted $patch"
  elif grep -qF "$field: " <<<"$out" && grep -qF "$message" <<<"$out"; then
    pass "update refused: $what ($field: $message)"
  else
    fail "update refused: $what (expected '$field: ... $message')" "$out"
  fi
}
update_refused "changing symbol" '{"spec":{"symbol":"ETHUSDT"}}' spec.symbol \
  "symbol is immutable; create a new Queue instead"
update_refused "changing type" '{"spec":{"type":"api_candles_1h"}}' spec.type \
  "type is immutable; create a new Queue instead"
update_refused "removing timeRange" '{"spec":{"timeRange":null}}' spec.timeRange \
  "timeRange is immutable; create a new Queue instead"
if out="$(kubectl patch queue min-k8s-btc --type merge -p '{"spec":{"suspend":true}}' 2>&1)"; then
  pass "update accepted: setting suspend (a mutable field)"
else
  fail "update accepted: setting suspend (a mutable field)" "$out"
fi
if [[ "$(kubectl get queue min-k8s-btc -o jsonpath='{.spec.symbol}' 2>&1)" == BTCUSDT ]]; then
  pass "min-k8s-btc still has symbol BTCUSDT"
else
  fail "min-k8s-btc still has symbol BTCUSDT" "$(kubectl get queue min-k8s-btc -o yaml 2>&1)"
fi

# Selectable fields serve field selectors.
if [[ " $want_selectable " == *" .spec.symbol "* ]]; then
  out="$(kubectl get queues --field-selector spec.symbol=ETHUSDT -o name 2>&1 || true)"
  if [[ "$out" == "queue.streamforge.io/min-k8s-eth" ]]; then
    pass "field selector spec.symbol=ETHUSDT lists only min-k8s-eth"
  else
    fail "field selector spec.symbol=ETHUSDT lists only min-k8s-eth" "$out"
  fi
fi
if [[ " $want_selectable " == *" .spec.target "* ]]; then
  out="$(kubectl get queues --field-selector spec.target=loader-api-candles -o name 2>&1 || true)"
  if [[ "$out" == "queue.streamforge.io/min-k8s-btc" ]]; then
    pass "field selector spec.target=loader-api-candles lists only min-k8s-btc"
  else
    fail "field selector spec.target=loader-api-candles lists only min-k8s-btc" "$out"
  fi
fi

# The install's admission policy for Queues (manifests/queue-policy.yaml, also in the chart):
# a ValidatingAdmissionPolicy typed against the CRD's schema.
policy="$ROOT/manifests/queue-policy.yaml"
if [[ -f "$policy" ]]; then
  if out="$(kubectl apply -f "$policy" 2>&1)"; then
    pass "manifests/queue-policy.yaml applies with strict field validation"
  else
    fail "manifests/queue-policy.yaml applies with strict field validation" "$out"
  fi
  # The policy takes effect once the API server has loaded and type-checked it.
  out=""
  for _ in $(seq 1 60); do
    if out="$(queue x-image dummy-service dummy_load BTCUSDT 'image: evil.example.com/dummy:1' |
      kubectl apply --dry-run=server -f - 2>&1)"; then
      sleep 0.5
    else
      break
    fi
  done
  if grep -qF "spec.image evil.example.com/dummy:1 is not allowed here" <<<"$out"; then
    pass "policy refuses: an image from another registry"
  else
    fail "policy refuses: an image from another registry" "${out:-accepted for 30 s}"
  fi
  if out="$(queue x-topic dummy-service dummy_load BTCUSDT 'kafkaTopic: queue-control' |
    kubectl apply --dry-run=server -f - 2>&1)"; then
    fail "policy refuses: the platform's own topic as a data topic" "the API server accepted it"
  elif grep -qF "spec.kafkaTopic queue-control is the platform's own topic" <<<"$out"; then
    pass "policy refuses: the platform's own topic as a data topic"
  else
    fail "policy refuses: the platform's own topic as a data topic" "$out"
  fi
  image_prefix="$(sed -n 's/.*\[\"\([^"]*\)\"\]\.exists(p, object\.spec\.image.*/\1/p' "$policy" | head -n1)"
  if out="$(queue x-ok-image dummy-service dummy_load BTCUSDT "image: ${image_prefix:-streamforge/}dummy-service:1" |
    kubectl apply --dry-run=server -f - 2>&1)"; then
    pass "policy accepts: an image from the allowed registry (${image_prefix:-streamforge/})"
  else
    fail "policy accepts: an image from the allowed registry (${image_prefix:-streamforge/})" "$out"
  fi
  refused_samples=""
  for f in "$ROOT"/samples/*.yaml; do
    kubectl apply --dry-run=server -f "$f" >/dev/null 2>&1 || refused_samples+=" samples/$(basename "$f")"
  done
  if [[ -z "$refused_samples" ]]; then
    pass "policy accepts: every sample"
  else
    fail "policy accepts: every sample" "refused:$refused_samples"
  fi
fi

# The chart's ServiceMonitor and PodMonitor (monitoring.enabled) against the Prometheus
# Operator's own CRDs (prometheus-operator v0.88.0, from the Go module proxy): the API server
# validates them with the CRDs' schemas, as a cluster with the Prometheus Operator would.
prom_op="github.com/prometheus-operator/prometheus-operator@v0.88.0"
if prom_dir="$(cd "$state" && go mod download -json "$prom_op" 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" &&
  helm="$(bash "$ROOT/scripts/install-helm.sh" 2>/dev/null | tail -n1)"; then
  crds="$prom_dir/example/prometheus-operator-crd"
  if kubectl apply --server-side -f "$crds/monitoring.coreos.com_servicemonitors.yaml" \
    -f "$crds/monitoring.coreos.com_podmonitors.yaml" >/dev/null 2>&1 &&
    kubectl wait --for=condition=Established --timeout=60s \
      crd/servicemonitors.monitoring.coreos.com crd/podmonitors.monitoring.coreos.com >/dev/null 2>&1; then
    kubectl create namespace streamforge --dry-run=client -o yaml | kubectl apply -f - >/dev/null 2>&1 || true
    monitors="$state/monitors.yaml"
    "$helm" template streamforge "$ROOT/charts/streamforge" -n streamforge --kube-version "${VERSION#v}" \
      --set monitoring.enabled=true --set monitoring.labels.release=prometheus \
      --show-only templates/monitoring.yaml >"$monitors"
    count="$(grep -cE '^kind: (ServiceMonitor|PodMonitor)$' "$monitors" || true)"
    if [[ "$count" -ge 2 ]] && out="$(kubectl apply --dry-run=server -f "$monitors" 2>&1)"; then
      pass "the chart's $count Prometheus Operator monitors are valid ServiceMonitor/PodMonitor objects ($prom_op)"
    else
      fail "the chart's Prometheus Operator monitors" "${out:-$count monitors rendered}"
    fi
  else
    fail "the Prometheus Operator's monitor CRDs apply ($prom_op)" "kubectl apply of $crds failed"
  fi
else
  fail "the Prometheus Operator's CRDs ($prom_op) and helm are available" "go mod download or scripts/install-helm.sh failed"
fi

printf '== the Queue CRD on Kubernetes %s: %d passed, %d failed (%d s)\n' \
  "$server_version" "$passed" "$failed" "$((SECONDS - started))"
if ((failed > 0)); then
  printf 'failed: %s\n' "${failures[@]}"
  exit 1
fi
