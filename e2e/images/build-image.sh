#!/usr/bin/env bash
# Builds a minimal OCI image around one executable, without Docker and
# without a registry, and optionally imports it into containerd.
#
#   build-image.sh [--import] <name[:tag]> <binary> [extra...]
#
# Each extra is SRC or SRC:DEST. SRC (a file or a directory) is copied into
# the image at DEST, or at SRC's own absolute path when DEST is not given.
#
# The image holds:
#   /usr/local/bin/<binary name>   the binary, also the image's entrypoint
#   the shared libraries and dynamic loader that ldd reports (dynamic binaries)
#   /etc/ssl/certs/ca-certificates.crt, /etc/passwd, /etc/group, /tmp
#   the extras
#
# Output, under ${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/images/<name>/<tag>/:
#   oci/        OCI image layout (umoci), reference <tag>
#   image.tar   the same image as a docker-archive (default) or oci-archive
#   stamp       inputs of the last build; an unchanged stamp skips the rebuild
#
# Environment:
#   IMAGE_ARCHIVE_FORMAT   docker | oci                                (default docker)
#   IMAGE_CA_BUNDLE        CA bundle to copy       (default /etc/ssl/certs/ca-certificates.crt)
#   IMAGE_FORCE            1 = rebuild even when the stamp matches
#   IMAGE_IMPORT           1 = import into containerd (same as --import)
#   CONTAINERD_ADDRESS     containerd socket; setting it also asks for the import
#                                             (default /run/containerd/containerd.sock)
#   CONTAINERD_NAMESPACE   containerd namespace                        (default k8s.io)
#   CONTAINERD_SNAPSHOTTER snapshotter to unpack into (read by ctr)    (default: containerd's)
#   STREAMFORGE_CACHE      cache root                                  (default ~/.cache/streamforge)
set -euo pipefail

prog="$(basename "$0")"
builder_digest="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

usage() {
  cat <<USAGE
usage: $prog [--import] <name[:tag]> <binary> [extra...]

Builds a minimal OCI image whose entrypoint is /usr/local/bin/<binary name>, with
the binary's shared libraries, the dynamic loader and the CA bundle, writes it as an
OCI layout and a tar archive under \$STREAMFORGE_CACHE/images/, and with --import
(or CONTAINERD_ADDRESS set) imports the tar into containerd.

Each extra is SRC or SRC:DEST; SRC (file or directory) is copied to DEST in the
image, or to SRC's own absolute path. See e2e/images/README.md for the settings.
USAGE
}
die() {
  echo "$prog: $*" >&2
  exit 1
}

import=0
[[ "${IMAGE_IMPORT:-0}" == 1 || -n "${CONTAINERD_ADDRESS:-}" ]] && import=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --import) import=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) break ;;
  esac
done
if [[ $# -lt 2 ]]; then
  usage >&2
  exit 2
fi
ref="$1"
binary="$2"
shift 2
extras=("$@")

containerd_address="${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}"
containerd_namespace="${CONTAINERD_NAMESPACE:-k8s.io}"
archive_format="${IMAGE_ARCHIVE_FORMAT:-docker}"
ca_bundle="${IMAGE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
cache_dir="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"

case "$archive_format" in
  docker | oci) ;;
  *) die "IMAGE_ARCHIVE_FORMAT must be docker or oci, not '$archive_format'" ;;
esac

# ---- image reference --------------------------------------------------------
# name[:tag] -> repository and tag, plus the fully qualified name containerd
# and the kubelet use (docker.io/library/foo:tag for a bare foo:tag).
repository="$ref"
tag="latest"
if [[ "$ref" == *@* ]]; then
  die "digest references are not supported: $ref"
fi
last="${ref##*/}"
if [[ "$last" == *:* ]]; then
  tag="${last##*:}"
  repository="${ref%:*}"
fi
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "invalid tag '$tag' in $ref"
path_re='^[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$'
first="${repository%%/*}"
if [[ "$repository" == */* && ( "$first" == *.* || "$first" == *:* || "$first" == localhost ) ]]; then
  domain="$first"
  path="${repository#*/}"
else
  domain="docker.io"
  path="$repository"
  [[ "$path" == */* ]] || path="library/$path"
fi
[[ "$path" =~ $path_re ]] || die "invalid image name '$repository' (lower case letters, digits, . _ - and /)"
full_ref="$domain/$path:$tag"

safe_name="$(printf '%s' "$repository" | tr -c 'A-Za-z0-9._-' '_')"
image_dir="$cache_dir/images/$safe_name/$tag"
layout_dir="$image_dir/oci"
archive="$image_dir/image.tar"
stamp_file="$image_dir/stamp"

# ---- tools ------------------------------------------------------------------
ensure_tools() {
  local -a missing=()
  command -v umoci >/dev/null || missing+=(umoci)
  command -v skopeo >/dev/null || missing+=(skopeo)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "$prog: installing ${missing[*]} with apt-get ..."
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get could not install ${missing[*]}"
    fi
  else
    die "${missing[*]} not installed (Debian: apt-get install ${missing[*]})"
  fi
}

# ---- inputs -----------------------------------------------------------------
[[ -f "$binary" ]] || die "binary '$binary' not found"
[[ -x "$binary" ]] || die "'$binary' is not executable"
[[ "$(head -c 4 "$binary" | od -An -c | tr -d ' ')" == '177ELF' ]] \
  || die "'$binary' is not an ELF executable"
binary_name="$(basename "$binary")"
entrypoint="/usr/local/bin/$binary_name"

digest_of() {
  if [[ -d "$1" ]]; then
    (cd "$1" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) \
      | sha256sum | cut -d' ' -f1
  else
    sha256sum "$1" | cut -d' ' -f1
  fi
}

declare -a extra_src=() extra_dest=()
for spec in "${extras[@]}"; do
  if [[ "$spec" == *:* ]]; then
    src="${spec%%:*}"
    dest="${spec#*:}"
  else
    src="$spec"
    dest="$(realpath -s "$src")"
  fi
  [[ -e "$src" ]] || die "extra file '$src' not found"
  [[ "$dest" == /* ]] || die "destination '$dest' of extra '$spec' must be an absolute path"
  extra_src+=("$src")
  extra_dest+=("$dest")
done

# ldd lists the libraries (and the loader) a dynamic binary needs; a static
# binary has none.
declare -a libs=()
linkage="static"
if ldd_out="$(LC_ALL=C ldd "$binary" 2>&1)"; then
  if ! grep -q 'statically linked' <<<"$ldd_out"; then
    linkage="dynamic"
    if grep -q 'not found' <<<"$ldd_out"; then
      die "ldd cannot resolve every library of $binary:"$'\n'"$(grep 'not found' <<<"$ldd_out")"
    fi
    while read -r lib; do
      [[ -n "$lib" ]] && libs+=("$lib")
    done < <(sed -n -e 's/^[[:space:]]*[^[:space:]]* => \(\/[^[:space:]]*\) (0x[0-9a-f]*)$/\1/p' \
      -e 's/^[[:space:]]*\(\/[^[:space:]]*\) (0x[0-9a-f]*)$/\1/p' <<<"$ldd_out" | sort -u)
    [[ ${#libs[@]} -gt 0 ]] || die "ldd reports $binary as dynamic but lists no libraries:"$'\n'"$ldd_out"
  fi
elif ! grep -q 'not a dynamic executable' <<<"$ldd_out"; then
  die "ldd failed on $binary:"$'\n'"$ldd_out"
fi

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch="$(uname -m)" ;;
esac

# ---- stamp ------------------------------------------------------------------
stamp="builder $builder_digest
ref $full_ref
format $archive_format
arch $arch
binary $binary_name $(digest_of "$binary")"
for lib in "${libs[@]}"; do
  stamp+=$'\n'"lib $lib $(digest_of "$lib")"
done
if [[ -f "$ca_bundle" ]]; then
  stamp+=$'\n'"ca $(digest_of "$ca_bundle")"
fi
for i in "${!extra_src[@]}"; do
  stamp+=$'\n'"extra ${extra_dest[$i]} $(digest_of "${extra_src[$i]}")"
done

ctr_cmd=(ctr -a "$containerd_address" -n "$containerd_namespace")
check_containerd() {
  command -v ctr >/dev/null || die "import asked, but ctr is not installed (Debian: apt-get install containerd)"
  [[ -S "$containerd_address" ]] \
    || die "import asked, but there is no containerd socket at $containerd_address (is containerd running? set CONTAINERD_ADDRESS to the platform's socket)"
  if ! timeout 15 "${ctr_cmd[@]}" version >/dev/null 2>&1; then
    die "import asked, but containerd does not answer on $containerd_address (stale socket or no permission)"
  fi
}

import_image() {
  local -a import_opts=()
  [[ "$archive_format" == oci ]] && import_opts+=(--base-name "${full_ref%:*}")
  echo "$prog: importing $full_ref into containerd $containerd_address (namespace $containerd_namespace) ..."
  timeout 300 "${ctr_cmd[@]}" images import "${import_opts[@]}" "$archive" >/dev/null \
    || die "ctr images import of $archive failed"
  "${ctr_cmd[@]}" images ls -q "name==$full_ref" | grep -qxF "$full_ref" \
    || die "import finished but containerd does not list $full_ref"
  echo "$prog: containerd has $full_ref"
}

if [[ "$import" == 1 ]]; then
  check_containerd
fi

if [[ "${IMAGE_FORCE:-0}" != 1 && -f "$stamp_file" && -f "$archive" && -d "$layout_dir" \
  && "$(cat "$stamp_file")" == "$stamp" ]]; then
  echo "$prog: $full_ref unchanged, using $archive"
  if [[ "$import" == 1 ]]; then
    import_image
  fi
  exit 0
fi

# ---- image -------------------------------------------------------------------
# The layer is made with unpack/repack: `umoci insert` in umoci 0.4.7 (Debian 12)
# writes layer tarballs without the padding after the last file.
ensure_tools
started=$SECONDS
mkdir -p "$image_dir"
work="$(mktemp -d "$image_dir/build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
layout="$work/oci"
bundle="$work/bundle"
rootfs="$bundle/rootfs"
rootless=()
[[ "$(id -u)" -eq 0 ]] || rootless=(--rootless)
run_quiet() {
  if ! "$@" >"$work/step.log" 2>&1; then
    cat "$work/step.log" >&2
    die "failed: $*"
  fi
}
created_by="e2e/images/build-image.sh $ref $binary_name"
run_quiet umoci init --layout "$layout"
run_quiet umoci new --image "$layout:$tag"
run_quiet umoci unpack "${rootless[@]}" --image "$layout:$tag" "$bundle"

mkdir -p "$rootfs"/{etc,tmp,usr/local/bin}
chmod 0755 "$rootfs"
chmod 1777 "$rootfs/tmp"

install -m 0755 "$binary" "$rootfs$entrypoint"

if [[ ${#libs[@]} -gt 0 ]]; then
  declare -A lib_dirs=()
  for lib in "${libs[@]}"; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L --preserve=mode "$lib" "$rootfs$lib"
    lib_dirs["$(dirname "$lib")"]=1
  done
  # A loader cache in the image covers libraries outside the default search path.
  printf '%s\n' "${!lib_dirs[@]}" | sort >"$rootfs/etc/ld.so.conf"
  ldconfig_bin="$(command -v ldconfig || echo /sbin/ldconfig)"
  if [[ -x "$ldconfig_bin" ]] && ! "$ldconfig_bin" -r "$rootfs" 2>"$work/ldconfig.err"; then
    echo "$prog: warning: ldconfig -r failed, the image relies on the loader's default paths:" >&2
    cat "$work/ldconfig.err" >&2
  fi
fi

if [[ -f "$ca_bundle" ]]; then
  install -D -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
else
  echo "$prog: warning: no CA bundle at $ca_bundle; the image has no CA certificates" >&2
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 0644 "$rootfs"/etc/{passwd,group,nsswitch.conf}

for i in "${!extra_src[@]}"; do
  dest="$rootfs${extra_dest[$i]}"
  mkdir -p "$(dirname "$dest")"
  if [[ -d "${extra_src[$i]}" ]]; then
    mkdir -p "$dest"
    cp -a "${extra_src[$i]}/." "$dest/"
  else
    cp -L --preserve=mode "${extra_src[$i]}" "$dest"
  fi
done

run_quiet umoci repack --image "$layout:$tag" --history.created_by "$created_by" "$bundle"
run_quiet umoci config --image "$layout:$tag" \
  --os linux --architecture "$arch" \
  --config.entrypoint "$entrypoint" \
  --config.workingdir / \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin \
  --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --config.label "org.opencontainers.image.title=$repository" \
  --manifest.annotation "org.opencontainers.image.ref.name=$tag" \
  --history.created_by "$created_by (config)"

case "$archive_format" in
  docker) destination="docker-archive:$work/image.tar:$full_ref" ;;
  oci) destination="oci-archive:$work/image.tar:$tag" ;;
esac
run_quiet skopeo --insecure-policy copy --quiet "oci:$layout:$tag" "$destination"

rm -rf "$layout_dir" "$stamp_file"
mv "$layout" "$layout_dir"
mv -f "$work/image.tar" "$archive"
printf '%s\n' "$stamp" >"$stamp_file"

size="$(du -h "$archive" | cut -f1)"
echo "$prog: built $full_ref ($linkage, ${#libs[@]} libraries, ${#extra_src[@]} extras) in $((SECONDS - started)) s"
echo "$prog:   layout  $layout_dir (ref $tag)"
echo "$prog:   archive $archive ($archive_format, $size)"
if [[ "$import" == 1 ]]; then
  import_image
fi
