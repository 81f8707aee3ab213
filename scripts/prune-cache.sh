#!/usr/bin/env bash
# Keeps the build cache from filling the disk: removes incremental compilation state and, of each
# test or binary executable in target/*/deps, all but the newest build (every change of a crate
# leaves another copy of its test binaries behind). Safe to run at any time outside a build.
set -euo pipefail
target="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
[ -d "$target" ] || exit 0
before=$(du -sm "$target" | cut -f1)
for profile in "$target"/*/; do
  rm -rf "${profile}incremental"
  deps="${profile}deps"
  [ -d "$deps" ] || continue
  # Executables named <name>-<16 hex>; newest first per name, the rest removed with their .d.
  find "$deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended \
    -regex '.*-[0-9a-f]{16}' -printf '%T@ %p\n' |
    sort -rn | awk '{ path = $2; name = path; sub(/-[0-9a-f]+$/, "", name);
                      if (seen[name]++) print path }' |
    while read -r old; do rm -f "$old" "$old.d"; done
done
after=$(du -sm "$target" | cut -f1)
echo "prune-cache: $target ${before} MiB -> ${after} MiB"
