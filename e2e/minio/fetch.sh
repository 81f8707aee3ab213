#!/usr/bin/env bash
# Builds the MinIO server from its Go module at the pinned release into
#   ${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}/minio/<release>/minio
# Does nothing when that binary is already built for the pinned version.
#
# Environment:
#   GO                       go command to use (default: go on PATH, else /usr/local/go/bin/go)
#   MINIO_BUILD_NICE         nice level of the compile (default 10)
#   MINIO_BUILD_FROM_SOURCE  1 = skip `go install` and build a copy of the module source
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stamp="$MINIO_MODULE@$MINIO_MODULE_VERSION"
if [[ -x "$MINIO_BIN" && -f "$MINIO_BUILD_STAMP" && "$(head -n1 "$MINIO_BUILD_STAMP")" == "$stamp" ]]; then
  echo "minio $MINIO_RELEASE: already built at $MINIO_BIN"
  exit 0
fi

go_cmd="$(minio_go)" || { echo "minio: no go command found (set GO=/path/to/go)" >&2; exit 1; }
release_time="${MINIO_RELEASE#RELEASE.}"                    # 2025-09-07T16-13-09Z
version_time="${release_time:0:10}T${release_time:11:2}:${release_time:14:2}:${release_time:17:2}Z"
pkg="github.com/minio/minio/cmd"
ldflags="-s -w -X $pkg.Version=$version_time -X $pkg.ReleaseTag=$MINIO_RELEASE"
ldflags+=" -X $pkg.CommitID=$MINIO_COMMIT -X $pkg.ShortCommitID=${MINIO_COMMIT:0:12}"
ldflags+=" -X $pkg.CopyrightYear=${release_time:0:4}"
build_flags=(-trimpath -tags kqueue -ldflags "$ldflags")
nice_level="${MINIO_BUILD_NICE:-10}"

# The module's go.mod asks for go 1.24; use the local toolchain rather than
# letting go download another one.
export GOTOOLCHAIN=local CGO_ENABLED=0

mkdir -p "$MINIO_HOME_DIR"
staging="$MINIO_HOME_DIR/bin.partial.$$"
build_log="$MINIO_HOME_DIR/build.log"
trap 'rm -rf "$staging"' EXIT
rm -rf "$staging"
mkdir -p "$staging"
: >"$build_log"

started=$SECONDS
echo "minio $MINIO_RELEASE: building $MINIO_MODULE@$MINIO_MODULE_VERSION with $("$go_cmd" version | cut -d' ' -f3) (log: $build_log) ..."

method=""
if [[ "${MINIO_BUILD_FROM_SOURCE:-0}" != 1 ]]; then
  if GOBIN="$staging" nice -n "$nice_level" "$go_cmd" install "${build_flags[@]}" \
    "$MINIO_MODULE@$MINIO_MODULE_VERSION" >>"$build_log" 2>&1; then
    method="go install"
  elif grep -qE 'replace directives|exclude directives|must not contain directives' "$build_log"; then
    echo "minio: go install refused the module's go.mod directives; building a copy of the source instead"
  else
    echo "minio: go install failed:" >&2
    tail -n 30 "$build_log" >&2
    exit 1
  fi
fi

if [[ -z "$method" ]]; then
  module_dir="$("$go_cmd" mod download -json "$MINIO_MODULE@$MINIO_MODULE_VERSION" 2>>"$build_log" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  if [[ -z "$module_dir" || ! -f "$module_dir/go.mod" ]]; then
    echo "minio: go mod download gave no source directory for $MINIO_MODULE@$MINIO_MODULE_VERSION" >&2
    tail -n 30 "$build_log" >&2
    exit 1
  fi
  src="$MINIO_HOME_DIR/src"
  rm -rf "$src"
  cp -R "$module_dir" "$src"
  chmod -R u+w "$src"
  if ! (cd "$src" && nice -n "$nice_level" "$go_cmd" build "${build_flags[@]}" -o "$staging/minio" . \
    >>"$build_log" 2>&1); then
    echo "minio: go build in $src failed:" >&2
    tail -n 30 "$build_log" >&2
    exit 1
  fi
  method="go build in $src"
fi

[[ -x "$staging/minio" ]] || { echo "minio: build finished but produced no minio binary" >&2; exit 1; }
if ! reported="$("$staging/minio" --version 2>&1)"; then
  echo "minio: the built binary does not run: $reported" >&2
  exit 1
fi

mv -f "$staging/minio" "$MINIO_BIN"
printf '%s\n%s\n' "$stamp" "$("$go_cmd" version)" >"$MINIO_BUILD_STAMP"
echo "$reported" | head -n1
echo "minio $MINIO_RELEASE: $MINIO_BIN ($(du -h "$MINIO_BIN" | cut -f1), $method, $((SECONDS - started)) s)"
