#!/usr/bin/env bash
# Smoke check of a running platform (after up.sh):
#   1. a pod from the locally built busybox image prints a line and exits;
#      it must reach Succeeded and its log must hold the line;
#   2. a pod opens a TCP connection to a listener on the host address pods
#      use ($(cat state/platform/host-ip)) and reads what it sends;
#   3. a pod reaches the apiserver through the kubernetes Service (kube-proxy).
# Runs in its own namespace, removed at the end (KEEP=1 keeps it).
#   SMOKE_HOST_PORT  host port for check 2 (default: a random free one)
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
require_root

NS=streamforge-smoke

port_free_now() {
  ! ss -Htln "sport = :$1" | grep -q .
}
started=$SECONDS

kubectl_admin get --raw /readyz >/dev/null 2>&1 || die "the apiserver does not answer; run e2e/platform/up.sh first"
[[ -f "$HOST_IP_FILE" ]] || die "$HOST_IP_FILE missing; run e2e/platform/up.sh first"
HOST_IP="$(cat "$HOST_IP_FILE")"
command -v socat >/dev/null 2>&1 || die "socat not found; run e2e/platform/install-host.sh"

listener_pid=""
cleanup() {
  if [[ -n "$listener_pid" ]]; then
    kill "$listener_pid" 2>/dev/null || true
    wait "$listener_pid" 2>/dev/null || true
  fi
  if [[ "${KEEP:-0}" != 1 ]]; then
    kubectl_admin delete namespace "$NS" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

fail() {
  local pod="$1"
  shift
  kubectl_admin -n "$NS" describe pod "$pod" >&2 || true
  kubectl_admin -n "$NS" logs "$pod" >&2 || true
  die "$*"
}

# A namespace left by an earlier run is removed first.
if kubectl_admin get namespace "$NS" >/dev/null 2>&1; then
  kubectl_admin delete namespace "$NS" --timeout=120s >/dev/null
fi
kubectl_admin create namespace "$NS" >/dev/null
deadline=$((SECONDS + 60))
until kubectl_admin -n "$NS" get serviceaccount default >/dev/null 2>&1; do
  ((SECONDS < deadline)) || die "no default ServiceAccount in $NS after 60s (is kube-controller-manager running?)"
  sleep 1
done

# run_pod NAME SCRIPT: runs SCRIPT with sh in a busybox pod, waits for it to
# succeed and prints its log.
run_pod() {
  local name="$1" script="$2"
  kubectl_admin -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $name
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $BUSYBOX_TAG
    imagePullPolicy: Never
    command: ["sh", "-c", $(printf '%s' "$script" | sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/')]
YAML
  local deadline=$((SECONDS + 120)) phase=""
  while :; do
    phase="$(kubectl_admin -n "$NS" get pod "$name" -o 'jsonpath={.status.phase}' 2>/dev/null || true)"
    case "$phase" in
      Succeeded) break ;;
      Failed) fail "$name" "pod $name failed" ;;
    esac
    ((SECONDS < deadline)) || fail "$name" "pod $name not Succeeded after 120s (phase '$phase')"
    sleep 1
  done
  kubectl_admin -n "$NS" logs "$name"
}

# 1. Hello.
# shellcheck disable=SC2016 # expanded inside the pod
out="$(run_pod hello 'echo "smoke: hello from $(hostname) as $(id -u)"; test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo "smoke: token mounted"')"
grep -q "smoke: hello from hello" <<<"$out" || die "pod hello logged '$out', not the expected line"
grep -q "smoke: token mounted" <<<"$out" || die "pod hello has no service account token: '$out'"
log "ok: pod ran from $BUSYBOX_TAG, Succeeded, log checked"

# 2. Pod to host TCP. The listener takes a free port (SMOKE_HOST_PORT, or a
# random one) and must be the process that owns it.
token="host-says-$RANDOM$RANDOM"
for _ in 1 2 3 4 5; do
  port="${SMOKE_HOST_PORT:-$((20000 + RANDOM % 10000))}"
  port_free_now "$port" || continue
  socat -T 10 -t 2 "TCP-LISTEN:$port,bind=$HOST_IP,reuseaddr,fork" "SYSTEM:echo $token" 2>/dev/null &
  listener_pid=$!
  deadline=$((SECONDS + 10))
  while kill -0 "$listener_pid" 2>/dev/null && ((SECONDS < deadline)); do
    if ss -Htlnp "sport = :$port" | grep -q "pid=$listener_pid,"; then
      break 2
    fi
    sleep 0.2
  done
  kill "$listener_pid" 2>/dev/null || true
  wait "$listener_pid" 2>/dev/null || true
  listener_pid=""
done
[[ -n "$listener_pid" ]] || die "could not start a listener on $HOST_IP (socat)"
# The pod sends nothing and keeps its side open (a FIFO nobody writes to), so
# the listener answers before it sees an end of input; nc exits when the
# listener closes.
out="$(run_pod to-host "mkfifo /tmp/in && { nc -w 5 $HOST_IP $port </tmp/in & exec 3>/tmp/in; wait \$!; }")"
grep -q "$token" <<<"$out" || die "pod could not read from $HOST_IP:$port on the host (got '$out')"
log "ok: pod opened a TCP connection to the host at $HOST_IP:$port"

# 3. Pod to the apiserver through the kubernetes Service: TLS to the Service
# address, answered by the apiserver (anonymous /version is allowed).
out="$(run_pod to-apiserver "wget -q -O- --no-check-certificate https://$KUBERNETES_SERVICE_IP/version")"
grep -q "\"gitVersion\": \"$K8S_VERSION\"" <<<"$out" \
  || die "pod could not fetch /version through the kubernetes Service $KUBERNETES_SERVICE_IP:443 (got '$out')"
log "ok: pod reached the apiserver ($K8S_VERSION) through the kubernetes Service $KUBERNETES_SERVICE_IP:443"

log "smoke passed in $((SECONDS - started)) s"
