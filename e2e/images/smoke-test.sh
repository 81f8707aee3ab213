#!/usr/bin/env bash
# Checks build-image.sh end to end against a private, temporary containerd:
# builds an image of a static C program and one of a dynamic binary
# (/usr/bin/env), imports both, runs both with `ctr run --rm`, checks their
# output, then stops that containerd (by its PID) and removes its files.
#
# Needs root, containerd, ctr and runc (Debian: apt-get install containerd runc)
# and gcc with a static libc for the static test (skipped without it).
#
# Environment:
#   SMOKE_KEEP               1 = keep the work directory (logs, images) afterwards
#   CONTAINERD_SNAPSHOTTER   snapshotter for import and run (default: overlayfs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
die() {
  echo "smoke-test: $*" >&2
  exit 1
}

[[ "$(id -u)" -eq 0 ]] || die "must run as root (containerd and runc need it)"
for tool in containerd ctr runc; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install containerd runc)"
done

work="$(mktemp -d /tmp/sf-image-smoke.XXXXXX)"
address="$work/containerd.sock"
containerd_pid=""
# containerd 1.6 puts shim sockets under /run/containerd/s whatever its state
# directory is; remember whether that directory was there before.
run_dir_existed=0
[[ -e /run/containerd ]] && run_dir_existed=1

cleanup() {
  local rc=$?
  if [[ -n "$containerd_pid" ]] && kill -0 "$containerd_pid" 2>/dev/null; then
    kill -TERM "$containerd_pid" 2>/dev/null || true
    for _ in $(seq 30); do
      kill -0 "$containerd_pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$containerd_pid" 2>/dev/null; then
      kill -KILL "$containerd_pid" 2>/dev/null || true
    fi
  fi
  if [[ "$run_dir_existed" == 0 ]]; then
    rmdir /run/containerd/s /run/containerd 2>/dev/null || true
  fi
  if grep -qF "$work" /proc/mounts; then
    echo "smoke-test: mounts under $work are still present; leaving it in place" >&2
  elif [[ "${SMOKE_KEEP:-0}" == 1 || $rc -ne 0 ]]; then
    echo "smoke-test: work directory kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT

mkdir -p "$work"/{root,state,runc,fifo,src}
cat >"$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$address"
[ttrpc]
  address = "$address.ttrpc"
TOML

setsid containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 </dev/null &
containerd_pid=$!
echo "$containerd_pid" >"$work/containerd.pid"
deadline=$((SECONDS + 30))
until ctr -a "$address" version >/dev/null 2>&1; do
  kill -0 "$containerd_pid" 2>/dev/null || { tail -n 20 "$work/containerd.log" >&2; die "containerd exited"; }
  ((SECONDS < deadline)) || { tail -n 20 "$work/containerd.log" >&2; die "containerd did not answer in 30 s"; }
  sleep 0.5
done
echo "smoke-test: private containerd (pid $containerd_pid) on $address"

export STREAMFORGE_CACHE="$work/cache" CONTAINERD_ADDRESS="$address" CONTAINERD_NAMESPACE=k8s.io
ctr_cmd=(ctr -a "$address" -n k8s.io)
run_opts=(--rm --runc-root "$work/runc" --fifo-dir "$work/fifo")
failures=0

expect() {
  local name="$1" pattern="$2" output="$3"
  if grep -qE "$pattern" <<<"$output"; then
    echo "smoke-test: PASS $name"
  else
    echo "smoke-test: FAIL $name: output did not match /$pattern/:" >&2
    echo "$output" >&2
    failures=$((failures + 1))
  fi
}

if command -v gcc >/dev/null; then
  cat >"$work/src/hello.c" <<'C'
#include <stdio.h>
int main(int argc, char **argv) {
  printf("hello from a static binary, %d args\n", argc - 1);
  return 0;
}
C
  if gcc -static -O2 -o "$work/src/hello" "$work/src/hello.c" 2>"$work/gcc.log"; then
    "$here/build-image.sh" sf-smoke/hello:v1 "$work/src/hello"
    out="$(timeout 60 "${ctr_cmd[@]}" run "${run_opts[@]}" docker.io/sf-smoke/hello:v1 smoke-hello 2>&1)" || true
    expect "static binary, entrypoint" '^hello from a static binary, 0 args$' "$out"
  else
    echo "smoke-test: SKIP static binary (gcc -static failed: $(head -n1 "$work/gcc.log"))"
  fi
else
  echo "smoke-test: SKIP static binary (no gcc)"
fi

"$here/build-image.sh" sf-smoke/env:v1 /usr/bin/env "$work/src:/opt/extra"
out="$(timeout 60 "${ctr_cmd[@]}" run "${run_opts[@]}" docker.io/sf-smoke/env:v1 smoke-env 2>&1)" || true
expect "dynamic binary, image environment" '^SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt$' "$out"
out="$(timeout 60 "${ctr_cmd[@]}" run "${run_opts[@]}" docker.io/sf-smoke/env:v1 smoke-env-ls \
  /usr/local/bin/env SMOKE=1 /usr/local/bin/env 2>&1)" || true
expect "dynamic binary, explicit command" '^SMOKE=1$' "$out"

IMAGE_ARCHIVE_FORMAT=oci "$here/build-image.sh" localhost/sf-smoke/env-oci:v1 /usr/bin/env
out="$(timeout 60 "${ctr_cmd[@]}" run "${run_opts[@]}" localhost/sf-smoke/env-oci:v1 smoke-env-oci 2>&1)" || true
expect "oci-archive import" '^PATH=/usr/local/bin:/usr/bin:/bin$' "$out"

out="$("$here/build-image.sh" sf-smoke/env:v1 /usr/bin/env "$work/src:/opt/extra" 2>&1)"
expect "unchanged inputs skip the build" 'unchanged' "$out"

echo "smoke-test: images in containerd:"
"${ctr_cmd[@]}" images ls | sed 's/^/  /'
((failures == 0)) || die "$failures check(s) failed"
echo "smoke-test: all checks passed"
