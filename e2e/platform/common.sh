# Shared settings for the local Kubernetes platform scripts. Sourced, not executed.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this

PLATFORM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Pinned versions. K8S_VERSION is the newest 1.34 patch that the Go module proxy
# serves with a checksum-database entry; ETCD_VERSION is the etcd release that
# release's build/dependencies.yaml names.
K8S_VERSION="v1.34.10"
ETCD_VERSION="v3.6.5"
PAUSE_TAG="registry.k8s.io/pause:3.10"
BUSYBOX_TAG="streamforge.local/busybox:1"

CACHE_ROOT="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
PLATFORM_CACHE="$CACHE_ROOT/platform"
BIN_DIR="$PLATFORM_CACHE/bin"
BUILD_STAMP="$BIN_DIR/.stamp"
IMAGES_DIR="$PLATFORM_CACHE/images"

STATE_ROOT="${STREAMFORGE_STATE:-$CACHE_ROOT/state}"
STATE="$STATE_ROOT/platform"
PKI="$STATE/pki"
KUBECONFIG_ADMIN="$STATE/admin.kubeconfig"
HOST_IP_FILE="$STATE/host-ip"

# Networking. Pods get addresses from POD_CIDR on the bridge BRIDGE, whose
# gateway address (the host side) is POD_GATEWAY: that is how pods reach
# services listening on the host, e.g. a Kafka broker on 0.0.0.0:9092.
BRIDGE="sf0"
POD_CIDR="10.88.0.0/16"
POD_GATEWAY="10.88.0.1"
SERVICE_CIDR="10.96.0.0/16"
KUBERNETES_SERVICE_IP="10.96.0.1"
CNI_BIN_DIR="/usr/lib/cni"
NODE_NAME="${STREAMFORGE_NODE_NAME:-streamforge-node}"

# Ports, all bound to loopback except the apiserver's and the kubelet's (pods
# reach the apiserver via the kubernetes Service, which kube-proxy maps onto
# POD_GATEWAY).
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
APISERVER_PORT=6443
CONTROLLER_MANAGER_PORT=10257
SCHEDULER_PORT=10259
KUBELET_PORT=10250
KUBELET_HEALTHZ_PORT=10248
KUBE_PROXY_HEALTHZ_PORT=10256
KUBE_PROXY_METRICS_PORT=10249

CONTAINERD_ROOT="$STATE/containerd/root"
CONTAINERD_RUN="$STATE/containerd/run"
CONTAINERD_SOCK="$CONTAINERD_RUN/containerd.sock"
CONTAINERD_CONFIG="$STATE/containerd/config.toml"
CNI_CONF_DIR="$STATE/cni/net.d"
CNI_STATE_DIR="$STATE/cni/state"
KUBELET_ROOT="$STATE/kubelet"

log() { printf '[platform] %s\n' "$*" >&2; }
die() { printf '[platform] ERROR: %s\n' "$*" >&2; exit 1; }

require_root() {
  [[ "$(id -u)" == 0 ]] || die "must run as root (containerd, kubelet and CNI need it)"
}

pid_file() { echo "$STATE/$1.pid"; }
log_file() { echo "$STATE/$1.log"; }

# Prints the recorded PID of a component if that process is alive, runs the
# component's binary and was started with this state directory on its command
# line (a stale pid file whose number now belongs to another process, such as
# someone else's containerd, does not count). Returns 1 otherwise.
component_pid() {
  local name="$1" f pid exe
  f="$(pid_file "$name")"
  [[ -f "$f" ]] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  exe="${exe% (deleted)}"
  [[ "${exe##*/}" == "$name" ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$STATE/" || return 1
  echo "$pid"
}

kubectl_admin() {
  "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"
}

ctr_k8s() {
  ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"
}
