#!/usr/bin/env bash
# Stops the local platform started by up.sh, in reverse start order, by the
# PIDs recorded in the state directory (never by process name). Before
# containerd stops, every pod sandbox it holds is stopped and removed over CRI
# (so CNI releases each pod's network); leftovers are then unmounted.
# Idempotent: what is not running is skipped.
#
#   down.sh           stop; keep state (certs, etcd data, imported images)
#   down.sh --purge   stop, then delete the whole state directory
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
require_root

purge=0
case "${1:-}" in
  --purge) purge=1 ;;
  "") ;;
  *) die "usage: down.sh [--purge]" ;;
esac

[[ -d "$STATE" ]] || { log "nothing to stop: $STATE does not exist"; exit 0; }

# stop_pid PID LABEL GRACE: SIGTERM, then SIGKILL after GRACE seconds.
stop_pid() {
  local pid="$1" label="$2" grace="$3" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  log "$label (pid $pid) did not stop in ${grace}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  log "warning: $label (pid $pid) still exists after SIGKILL"
}

stop_component() {
  local name="$1" grace="${2:-20}" pid
  if pid="$(component_pid "$name")"; then
    log "stopping $name (pid $pid)"
    stop_pid "$pid" "$name" "$grace"
  fi
  rm -f "$(pid_file "$name")"
}

# Every pod sandbox in the platform's containerd, removed through CRI.
sweep_pods() {
  if [[ -x "$BIN_DIR/crisweep" ]] \
    && "$BIN_DIR/crisweep" -endpoint "unix://$CONTAINERD_SOCK" -timeout 2m >&2; then
    return 0
  fi
  log "warning: CRI sweep failed; removing containers with ctr instead"
  local id ns
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do
    for ns in $(ctr_k8s containers info "$id" 2>/dev/null | grep -o '/var/run/netns/cni-[0-9a-f-]*' | sort -u); do
      echo "$ns" >>"$STATE/netns-leftover"
    done
    ctr_k8s tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
  done
  sleep 1
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do
    ctr_k8s tasks delete --force "$id" >/dev/null 2>&1 || true
    ctr_k8s containers delete "$id" >/dev/null 2>&1 || true
  done
}

# Container processes and shims that outlived containerd (it was killed, or
# crashed). Each task's bundle directory, named by container id, records the
# container's init PID (init.pid) and the shim's socket (address). An init PID
# counts only while its cgroup path still holds the container id; the shim is
# the process listening on the recorded socket, and only if it serves this
# platform's containerd.
stop_shims() {
  local d id pid addr shim_pids=()
  # Pod network namespaces named in the bundles, unmounted later.
  cat "$CONTAINERD_RUN"/io.containerd.runtime.v2.task/*/*/config.json 2>/dev/null \
    | grep -o '/var/run/netns/cni-[0-9a-f-]*' | sort -u >>"$STATE/netns-leftover" || true
  for d in "$CONTAINERD_RUN"/io.containerd.runtime.v2.task/*/*/; do
    [[ -d "$d" ]] || continue
    id="$(basename "$d")"
    pid="$(tr -dc '0-9' <"$d/init.pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && grep -qF "$id" "/proc/$pid/cgroup" 2>/dev/null; then
      log "killing leftover process $pid of container ${id:0:13}"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    addr="$(cat "$d/address" 2>/dev/null || true)"
    addr="${addr#unix://}"
    [[ -n "$addr" ]] || continue
    pid="$(ss -xlpn 2>/dev/null | awk -v a="$addr" '$5 == a' | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)"
    [[ -n "$pid" ]] || continue
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$CONTAINERD_SOCK" || continue
    [[ " ${shim_pids[*]} " == *" $pid "* ]] || shim_pids+=("$pid")
  done
  for pid in "${shim_pids[@]}"; do
    log "stopping leftover containerd shim $pid"
    stop_pid "$pid" "shim $pid" 5
  done
}

# Mounts the platform left under its state directory, deepest first.
unmount_state() {
  local m
  findmnt -rn -o TARGET | awk -v root="$STATE/" 'index($0, root) == 1' | sort -r | while read -r m; do
    m="$(printf '%b' "$m")"
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: cannot unmount $m"
  done
  if [[ -f "$STATE/netns-leftover" ]]; then
    while read -r m; do
      [[ -e "$m" ]] || continue
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
      rm -f "$m"
    done <"$STATE/netns-leftover"
    rm -f "$STATE/netns-leftover"
  fi
}

stop_component kube-proxy
stop_component kubelet 30
stop_component kube-scheduler
stop_component kube-controller-manager
stop_component kube-apiserver 30

if component_pid containerd >/dev/null; then
  sweep_pods
fi
stop_component etcd 30
stop_component containerd 30
stop_shims

# Rules kube-proxy made (Service NAT chains).
if [[ -x "$BIN_DIR/kube-proxy" ]] && command -v iptables >/dev/null 2>&1; then
  timeout 60 "$BIN_DIR/kube-proxy" --cleanup --v 0 >>"$(log_file kube-proxy)" 2>&1 \
    || log "warning: kube-proxy --cleanup failed; see $(log_file kube-proxy)"
fi

# Utility chains the kubelet made (KUBE-FIREWALL guards 127.0.0.0/8 from
# non-local sources; the others are markers).
remove_kubelet_chains() {
  local cmd="$1" table chain
  command -v "$cmd" >/dev/null 2>&1 || return 0
  while "$cmd" -w 5 -t filter -D INPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  while "$cmd" -w 5 -t filter -D OUTPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  for table in filter nat mangle; do
    for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
      if "$cmd" -w 5 -t "$table" -S "$chain" >/dev/null 2>&1; then
        "$cmd" -w 5 -t "$table" -F "$chain" 2>/dev/null || true
        "$cmd" -w 5 -t "$table" -X "$chain" 2>/dev/null || true
      fi
    done
  done
}
remove_kubelet_chains iptables
remove_kubelet_chains ip6tables

unmount_state
rm -rf "$CNI_STATE_DIR/ipam"
# The kubelet links each container log into /var/log/containers (a fixed
# path); remove the links that point into this platform's state.
for f in /var/log/containers/*.log; do
  [[ -L "$f" ]] || continue
  case "$(readlink "$f")" in
    "$STATE"/*) rm -f "$f" ;;
  esac
done
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  ip link delete "$BRIDGE" || log "warning: cannot delete bridge $BRIDGE"
fi

if ((purge)); then
  if findmnt -rn -o TARGET | awk -v root="$STATE/" 'index($0, root) == 1' | grep -q .; then
    die "mounts remain under $STATE; not deleting it"
  fi
  rm -rf "$STATE"
  log "deleted $STATE"
fi
log "platform stopped"
