#!/usr/bin/env bash
# Installs the Debian packages the local platform needs, only those missing,
# and checks the kernel features it relies on. Safe to run again.
set -euo pipefail

# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"
require_root

PACKAGES=(
  containerd                  # container runtime (ctr comes with it)
  runc                        # OCI runtime containerd calls
  containernetworking-plugins # bridge, host-local, portmap, loopback in /usr/lib/cni
  umoci                       # packs the locally built images as OCI layouts
  skopeo                      # inspects/copies OCI layouts
  iptables                    # CNI portmap/masquerade and kube-proxy rules
  conntrack                   # kube-proxy clears stale UDP entries with it
  socat                       # kubectl port-forward
  ethtool
  openssl                     # cluster CA and certificates
  curl                        # health checks
  busybox-static              # userland of the smoke-test image
  gcc                         # static pause binary
  libc6-dev
  iproute2
  util-linux                  # setsid, mount, nsenter
  mount
  tar
  ca-certificates
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
else
  log "all host packages present"
fi

# The Debian containerd package ships a systemd unit. This platform runs its
# own containerd with its own config, socket and state, so the packaged
# service is left alone; if it is running it does not interfere (separate
# socket and root), but say so.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet containerd 2>/dev/null; then
  log "note: the system containerd service is running; the platform uses its own instance at $CONTAINERD_SOCK"
fi

for b in containerd containerd-shim-runc-v2 runc ctr iptables umoci skopeo busybox; do
  command -v "$b" >/dev/null 2>&1 || die "$b is not on PATH after the install"
done
for p in bridge host-local portmap loopback; do
  [[ -x "$CNI_BIN_DIR/$p" ]] || die "CNI plugin $CNI_BIN_DIR/$p missing (package containernetworking-plugins)"
done

# Kernel features. Modules are loaded when the kernel has them as modules;
# on a kernel with them built in (no /lib/modules) there is nothing to load.
if [[ -d "/lib/modules/$(uname -r)" ]] && command -v modprobe >/dev/null 2>&1; then
  modprobe overlay 2>/dev/null || true
  modprobe br_netfilter 2>/dev/null || true
fi
grep -qw overlay /proc/filesystems || log "warning: no overlay filesystem; containerd will need the native snapshotter"
[[ -d /proc/sys/net/bridge ]] || die "the kernel has no bridge netfilter (br_netfilter); pod networking cannot work"

set_sysctl() {
  local key="$1" want="$2" path
  path="/proc/sys/${key//.//}"
  [[ -e "$path" ]] || die "sysctl $key does not exist on this kernel"
  if [[ "$(cat "$path")" != "$want" ]]; then
    echo "$want" >"$path" || die "cannot set $key=$want"
  fi
}
set_sysctl net.ipv4.ip_forward 1
set_sysctl net.bridge.bridge-nf-call-iptables 1
set_sysctl net.bridge.bridge-nf-call-ip6tables 1

# The kubelet, cAdvisor and containerd watch many files; raise the inotify
# limits if they are low.
[[ "$(cat /proc/sys/fs/inotify/max_user_instances)" -ge 512 ]] || echo 512 >/proc/sys/fs/inotify/max_user_instances
[[ "$(cat /proc/sys/fs/inotify/max_user_watches)" -ge 524288 ]] || echo 524288 >/proc/sys/fs/inotify/max_user_watches

log "host ready: $(containerd --version 2>/dev/null | awk '{print $3}') containerd, $(runc --version | head -n1), cgroups $(stat -fc %T /sys/fs/cgroup)"
