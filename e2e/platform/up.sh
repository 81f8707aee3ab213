#!/usr/bin/env bash
# Brings up the local single-node Kubernetes platform: containerd, etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy, each as a background process with a pid file and a log under
# ${STREAMFORGE_STATE:-$HOME/.cache/streamforge/state}/platform. Idempotent:
# what already runs is left alone, what is missing is started.
#
# Before starting it makes sure the host packages, the binaries and the local
# images exist (install-host.sh, build.sh, images.sh; each quick when done).
# SKIP_PREPARE=1 skips those three.
#
# Environment:
#   UP_TIMEOUT   seconds to wait for each component to become healthy (default 180)
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
require_root

UP_TIMEOUT="${UP_TIMEOUT:-180}"
started=$SECONDS

if [[ "${SKIP_PREPARE:-0}" != 1 ]]; then
  "$PLATFORM_DIR/install-host.sh"
  "$PLATFORM_DIR/build.sh"
  "$PLATFORM_DIR/images.sh"
fi

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  [[ -x "$BIN_DIR/$b" ]] || die "$BIN_DIR/$b missing; run e2e/platform/build.sh"
done
for b in containerd ctr runc openssl curl ip ss iptables setsid; do
  command -v "$b" >/dev/null 2>&1 || die "$b not found; run e2e/platform/install-host.sh"
done

mkdir -p "$STATE" "$PKI" "$CNI_CONF_DIR" "$CNI_STATE_DIR" "$KUBELET_ROOT" \
  "$CONTAINERD_ROOT" "$CONTAINERD_RUN" "$STATE/etcd"
chmod 700 "$PKI"

# Unix sockets are limited to 108 bytes; containerd also puts a .ttrpc socket
# beside its gRPC one.
((${#CONTAINERD_SOCK} < 100)) || die "state path too long for a unix socket: $CONTAINERD_SOCK (set STREAMFORGE_STATE to a shorter directory)"

# Waits until "$@" succeeds, failing early if the component's process died.
wait_until() {
  local name="$1" what="$2" limit="$3"
  shift 3
  local t0=$SECONDS deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$name" ]] && ! component_pid "$name" >/dev/null; then
      tail -n 30 "$(log_file "$name")" >&2 || true
      die "$name exited while waiting for $what; log: $(log_file "$name")"
    fi
    if ((SECONDS >= deadline)); then
      [[ -z "$name" ]] || tail -n 30 "$(log_file "$name")" >&2 || true
      die "timed out after ${limit}s waiting for $what${name:+; log: $(log_file "$name")}"
    fi
    sleep 1
  done
  log "ready: $what ($((SECONDS - t0)) s)"
}

# write_if_changed FILE [COMPONENT]: stdin becomes FILE only when it differs,
# so that a running component watching FILE (kube-proxy exits when its config
# file changes) is not disturbed by a repeated up.sh. Warns when COMPONENT runs
# and its file did change.
write_if_changed() {
  local file="$1" component="${2:-}" pid
  cat >"$file.tmp"
  if cmp -s "$file.tmp" "$file"; then
    rm -f "$file.tmp"
    return 0
  fi
  mv -f "$file.tmp" "$file"
  if [[ -n "$component" ]] && pid="$(component_pid "$component")"; then
    log "warning: $file changed while $component runs (pid $pid); run down.sh then up.sh to apply it"
  fi
}

port_free() {
  ! ss -Htln "sport = :$1" | grep -q .
}

# start NAME PORT BINARY ARGS... : starts BINARY in its own session unless
# NAME already runs. PORT (or "-") must be free first. The pid file receives
# the PID of the process itself: the wrapper shell writes its own PID, then
# execs the binary in place.
start() {
  local name="$1" port="$2" bin="$3"
  shift 3
  local pid pidf logf
  pidf="$(pid_file "$name")"
  logf="$(log_file "$name")"
  if pid="$(component_pid "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  if [[ "$port" != - ]] && ! port_free "$port"; then
    die "port $port, which $name needs, is taken by another process: $(ss -Htlnp "sport = :$port" | head -n1)"
  fi
  rm -f "$pidf"
  printf '=== %s starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$logf"
  # shellcheck disable=SC2016 # expanded by the wrapper shell
  setsid bash -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    echo $$ >"$0"; exec "$@"' "$pidf" "$bin" "$@" >>"$logf" 2>&1 </dev/null &
  local deadline=$((SECONDS + 10))
  until pid="$(component_pid "$name")"; do
    if ((SECONDS >= deadline)); then
      tail -n 30 "$logf" >&2 || true
      die "$name did not start; log: $logf"
    fi
    sleep 0.2
  done
  log "started $name (pid $pid, log $logf)"
}

# Host network ----------------------------------------------------------------------
# The pod bridge is created here, with the gateway address on it, so that the
# host has a fixed address on the pod network before any pod exists: the
# apiserver advertises it, the kubelet uses it as node IP, and pods reach host
# services (e.g. Kafka on 0.0.0.0:9092) at it.
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link add "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE"
fi
prefix="${POD_CIDR#*/}"
if ! ip -4 addr show dev "$BRIDGE" | grep -qw "inet $POD_GATEWAY/$prefix"; then
  ip addr add "$POD_GATEWAY/$prefix" dev "$BRIDGE" || die "cannot add $POD_GATEWAY/$prefix to $BRIDGE"
fi
ip link set "$BRIDGE" up
for key in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
  [[ "$(cat "/proc/sys/${key//.//}")" == 1 ]] || die "sysctl $key is not 1; run e2e/platform/install-host.sh"
done
echo "$POD_GATEWAY" | write_if_changed "$HOST_IP_FILE"

# Pods resolve nothing: there is no cluster DNS, and no name server is reachable
# from this machine. A nameserver on the pod's own loopback makes look-ups fail
# at once instead of timing out.
printf 'nameserver 127.0.0.1\noptions ndots:1 timeout:1 attempts:1\n' | write_if_changed "$STATE/resolv.conf"

# PKI ----------------------------------------------------------------------------------
ca_key="$PKI/ca.key"
ca_crt="$PKI/ca.crt"
if [[ ! -f "$ca_crt" || ! -f "$ca_key" ]]; then
  log "creating cluster CA"
  cat >"$PKI/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = streamforge-ca
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
EOF
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$ca_key" 2>/dev/null
  openssl req -x509 -new -config "$PKI/ca.cnf" -key "$ca_key" -days 3650 -sha256 -out "$ca_crt" \
    || die "openssl could not create the CA"
  # Every certificate below is signed by this CA; a new CA means new leaves.
  find "$PKI" -maxdepth 1 -name '*.crt' ! -name ca.crt -delete
fi

# cert NAME CN ORG USAGE SANS: a CA-signed key pair, made again when its
# subject or SAN list changes. USAGE is serverAuth, clientAuth or both.
cert() {
  local name="$1" cn="$2" org="$3" usage="$4" sans="$5"
  local key="$PKI/$name.key" crt="$PKI/$name.crt" spec="$PKI/$name.spec"
  local want="cn=$cn o=$org usage=$usage sans=$sans"
  if [[ -f "$key" && -f "$crt" && "$(cat "$spec" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  local subj="/CN=$cn"
  [[ -z "$org" ]] || subj="/O=$org$subj"
  [[ -f "$key" ]] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
  {
    echo "basicConstraints = critical,CA:FALSE"
    echo "keyUsage = critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage = $usage"
    echo "authorityKeyIdentifier = keyid"
    [[ -z "$sans" ]] || echo "subjectAltName = $sans"
  } >"$PKI/$name.ext"
  openssl req -new -key "$key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null \
    || die "openssl could not make a CSR for $name"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$ca_crt" -CAkey "$ca_key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
    -extfile "$PKI/$name.ext" -out "$crt" 2>/dev/null \
    || die "openssl could not sign the $name certificate"
  rm -f "$PKI/$name.csr"
  echo "$want" >"$spec"
  log "issued $name certificate ($cn)"
}

apiserver_sans="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
apiserver_sans+=",DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE_NAME"
apiserver_sans+=",IP:127.0.0.1,IP:$POD_GATEWAY,IP:$KUBERNETES_SERVICE_IP"
cert apiserver kube-apiserver "" serverAuth "$apiserver_sans"
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth ""
cert admin streamforge-admin system:masters clientAuth ""
cert controller-manager system:kube-controller-manager "" clientAuth ""
cert scheduler system:kube-scheduler "" clientAuth ""
cert kubelet "system:node:$NODE_NAME" system:nodes clientAuth ""
cert kube-proxy system:kube-proxy "" clientAuth ""

if [[ ! -f "$PKI/sa.key" || ! -f "$PKI/sa.pub" ]]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  log "created service-account signing key"
fi

# kubeconfig FILE CERTNAME: a kubeconfig for the local apiserver with the
# client certificate CERTNAME embedded; remade when the certificate is newer.
kubeconfig() {
  local file="$1" certname="$2"
  if [[ -f "$file" && "$file" -nt "$PKI/$certname.crt" && "$file" -nt "$ca_crt" ]]; then
    return 0
  fi
  local tmp="$file.tmp"
  rm -f "$tmp"
  local k=("$BIN_DIR/kubectl" config --kubeconfig "$tmp")
  "${k[@]}" set-cluster streamforge --server "https://127.0.0.1:$APISERVER_PORT" \
    --certificate-authority "$ca_crt" --embed-certs >/dev/null
  "${k[@]}" set-credentials "$certname" --client-certificate "$PKI/$certname.crt" \
    --client-key "$PKI/$certname.key" --embed-certs >/dev/null
  "${k[@]}" set-context streamforge --cluster streamforge --user "$certname" >/dev/null
  "${k[@]}" use-context streamforge >/dev/null
  chmod 600 "$tmp"
  mv -f "$tmp" "$file"
}
kubeconfig "$KUBECONFIG_ADMIN" admin
kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
kubeconfig "$STATE/scheduler.kubeconfig" scheduler
kubeconfig "$STATE/kubelet.kubeconfig" kubelet
kubeconfig "$STATE/kube-proxy.kubeconfig" kube-proxy

# containerd -------------------------------------------------------------------------
# Its own instance: own config, socket, root and state, cgroupfs (no systemd),
# overlayfs snapshots, the locally built pause image as sandbox image and the
# CNI config below.
snapshotter=overlayfs
grep -qw overlay /proc/filesystems || snapshotter=native

write_if_changed "$CNI_CONF_DIR/10-streamforge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "streamforge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$CNI_STATE_DIR/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

write_if_changed "$CONTAINERD_CONFIG" containerd <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_RUN"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_RUN/containerd.sock.ttrpc"

[debug]
  address = "$CONTAINERD_RUN/debug.sock"
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_TAG"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384
  # Lowering a process's oom_score_adj needs CAP_SYS_RESOURCE, which some
  # sandboxes (this VM among them) do not grant even to root. The kubelet asks
  # for -998 for pod sandboxes; clamp such requests to containerd's own value.
  restrict_oom_score_adj = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"
    discard_unpacked_layers = false

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$CONTAINERD_RUN/runc"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
EOF

start containerd - containerd --config "$CONTAINERD_CONFIG"
wait_until containerd "containerd on $CONTAINERD_SOCK" "$UP_TIMEOUT" \
  ctr --address "$CONTAINERD_SOCK" version
"$PLATFORM_DIR/images.sh" --import

# etcd ---------------------------------------------------------------------------------
# Plain HTTP on loopback only.
start etcd "$ETCD_CLIENT_PORT" "$BIN_DIR/etcd" \
  --name streamforge \
  --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "streamforge=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls "" \
  --quota-backend-bytes $((2 * 1024 * 1024 * 1024)) \
  --auto-compaction-mode periodic --auto-compaction-retention 1h \
  --log-level warn
wait_until etcd "etcd health" "$UP_TIMEOUT" \
  sh -c "curl -fsS http://127.0.0.1:$ETCD_CLIENT_PORT/health | grep -q '\"health\":\"true\"'"

# kube-apiserver -------------------------------------------------------------------
start kube-apiserver "$APISERVER_PORT" "$BIN_DIR/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address 0.0.0.0 \
  --secure-port "$APISERVER_PORT" \
  --advertise-address "$POD_GATEWAY" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --service-node-port-range 30000-32767 \
  --client-ca-file "$ca_crt" \
  --tls-cert-file "$PKI/apiserver.crt" \
  --tls-private-key-file "$PKI/apiserver.key" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" \
  --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction \
  --allow-privileged=true \
  --profiling=false \
  --event-ttl 1h \
  --v 1
wait_until kube-apiserver "kube-apiserver /readyz" "$UP_TIMEOUT" kubectl_admin get --raw /readyz

# kube-controller-manager and kube-scheduler -------------------------------------------
# All controllers (the defaults include the service-account and token
# controllers and the garbage collector; the token controller needs the
# signing key). Single instance, so no leader election.
start kube-controller-manager "$CONTROLLER_MANAGER_PORT" "$BIN_DIR/kube-controller-manager" \
  --kubeconfig "$STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 \
  --secure-port "$CONTROLLER_MANAGER_PORT" \
  --controllers '*' \
  --enable-garbage-collector=true \
  --use-service-account-credentials=true \
  --service-account-private-key-file "$PKI/sa.key" \
  --root-ca-file "$ca_crt" \
  --cluster-signing-cert-file "$ca_crt" \
  --cluster-signing-key-file "$ca_key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --cluster-cidr "$POD_CIDR" \
  --allocate-node-cidrs=false \
  --leader-elect=false \
  --profiling=false \
  --v 1
start kube-scheduler "$SCHEDULER_PORT" "$BIN_DIR/kube-scheduler" \
  --kubeconfig "$STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 \
  --secure-port "$SCHEDULER_PORT" \
  --leader-elect=false \
  --profiling=false \
  --v 1
wait_until kube-controller-manager "kube-controller-manager /healthz" "$UP_TIMEOUT" \
  curl -fsSk "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"
wait_until kube-scheduler "kube-scheduler /healthz" "$UP_TIMEOUT" \
  curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz"

# kubelet ------------------------------------------------------------------------------
write_if_changed "$STATE/kubelet.yaml" kubelet <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 0.0.0.0
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $ca_crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
registerNode: true
clusterDomain: cluster.local
resolvConf: $STATE/resolv.conf
maxPods: 110
podPidsLimit: -1
serializeImagePulls: false
# The locally imported images cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMinimumGCAge: 2m0s
# The host disk may already be half full; evict only when nearly out.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
evictionPressureTransitionPeriod: 30s
podLogsDir: $STATE/pod-logs
containerLogMaxSize: 10Mi
containerLogMaxFiles: 3
rotateCertificates: false
serverTLSBootstrap: false
protectKernelDefaults: false
makeIPTablesUtilChains: true
# Not negative: see restrict_oom_score_adj in the containerd config.
oomScoreAdj: 0
volumeStatsAggPeriod: 1m0s
EOF
kubelet_fresh_since=0
component_pid kubelet >/dev/null || kubelet_fresh_since="$(date -u +%s)"
start kubelet "$KUBELET_PORT" "$BIN_DIR/kubelet" \
  --config "$STATE/kubelet.yaml" \
  --kubeconfig "$STATE/kubelet.kubeconfig" \
  --root-dir "$KUBELET_ROOT" \
  --cert-dir "$KUBELET_ROOT/pki" \
  --hostname-override "$NODE_NAME" \
  --node-ip "$POD_GATEWAY" \
  --v 1
wait_until kubelet "kubelet /healthz" "$UP_TIMEOUT" curl -fsS "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"

# kube-proxy ---------------------------------------------------------------------------
# iptables mode, so that Services work, including the kubernetes Service
# (https://$KUBERNETES_SERVICE_IP) that in-cluster clients use.
write_if_changed "$STATE/kube-proxy.yaml" kube-proxy <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $STATE/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
oomScoreAdj: 0
# NodePorts on the node address ($POD_GATEWAY) only, not on every host address.
nodePortAddresses: [primary]
conntrack:
  maxPerCore: 0
  min: 0
EOF
start kube-proxy "$KUBE_PROXY_HEALTHZ_PORT" "$BIN_DIR/kube-proxy" \
  --config "$STATE/kube-proxy.yaml" \
  --v 1

# Readiness ----------------------------------------------------------------------------
wait_until kubelet "node $NODE_NAME to register" "$UP_TIMEOUT" kubectl_admin get node "$NODE_NAME"
# Ready as reported by this kubelet: after a restart the node object still
# holds the last run's Ready status until the new kubelet posts its own.
node_ready() {
  local status beat
  read -r status beat < <(kubectl_admin get node "$NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}{"\n"}')
  [[ "$status" == True && -n "$beat" ]] || return 1
  (($(date -u -d "$beat" +%s) + 1 >= kubelet_fresh_since))
}
wait_until kubelet "node $NODE_NAME to be Ready" "$UP_TIMEOUT" node_ready
wait_until kube-controller-manager "ServiceAccount default/default" "$UP_TIMEOUT" \
  kubectl_admin get serviceaccount default --namespace default
wait_until kube-controller-manager "ConfigMap default/kube-root-ca.crt" "$UP_TIMEOUT" \
  kubectl_admin get configmap kube-root-ca.crt --namespace default
wait_until kube-proxy "kube-proxy /healthz" "$UP_TIMEOUT" \
  curl -fsS "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz"

log "platform up in $((SECONDS - started)) s"
cat <<EOF
Kubernetes $K8S_VERSION is up on node $NODE_NAME.
  kubeconfig:      $KUBECONFIG_ADMIN
                   export KUBECONFIG=$KUBECONFIG_ADMIN
  kubectl:         $BIN_DIR/kubectl
  logs, pid files: $STATE/<component>.log, $STATE/<component>.pid
  host from pods:  $POD_GATEWAY (also in $HOST_IP_FILE); e.g. a broker on 0.0.0.0:9092
                   is $POD_GATEWAY:9092 from a pod
  images:          $PAUSE_TAG (sandbox), $BUSYBOX_TAG; add more with e2e/platform/load-image.sh
  no cluster DNS:  pods use IP addresses
EOF
