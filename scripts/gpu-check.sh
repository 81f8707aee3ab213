#!/usr/bin/env bash
# gnn-trainer on a GPU: trains each model on a synthetic graph on the CPU and on CUDA with the
# same binary and prints the mean epoch time of both (and the speed-up), then the final JSON.
#
#   scripts/gpu-check.sh --build   (here, on a machine with Rust and the package index)
#       builds target/gpu-check/gnn-trainer: linked with libtorch_cuda (STREAMFORGE_TORCH_CUDA=1)
#       against the libtorch of torch==$GPU_TORCH_VERSION (default 2.11.0, the GPU machine's:
#       a libtorch binary only loads the libtorch it was built against). The wheel is fetched
#       with --no-deps into $HOME/.cache/streamforge/torch-$GPU_TORCH_VERSION (headers and
#       libraries only; nothing is imported), and built from a copy of the tree whose
#       gnn-trainer uses tch $GPU_TCH_VERSION (the tch of that libtorch).
#   scripts/gpu-check.sh           (on the GPU machine: no Rust, no network needed)
#       runs target/gpu-check/gnn-trainer (or $GNN_TRAINER_BIN) with LD_LIBRARY_PATH at the torch
#       of $TORCH_PYTHON (default /opt/torch/.venv/bin/python3), whose CUDA build brings the CUDA
#       libraries (its libtorch_cuda finds them by its own rpath).
#
# Settings: GPU_CHECK_WINDOWS (default 8000), GPU_CHECK_SYMBOLS (16), GPU_CHECK_EPOCHS (30),
# GPU_CHECK_MODELS (GCN GAT GraphSAGE), GPU_CHECK_HIDDEN (64).
set -euo pipefail
cd "$(dirname "$0")/.."

GPU_TORCH_VERSION="${GPU_TORCH_VERSION:-2.11.0}"
# The tch release built for that libtorch (tch 0.24 ↔ torch 2.11, 0.26 ↔ 2.13).
GPU_TCH_VERSION="${GPU_TCH_VERSION:-0.24.0}"
OUT_BIN="target/gpu-check/gnn-trainer"

if [ "${1:-}" = "--build" ]; then
    torch_dir="$HOME/.cache/streamforge/torch-$GPU_TORCH_VERSION"
    if [ ! -d "$torch_dir/torch/lib" ]; then
        py="${STREAMFORGE_TORCH_PYTHON:-python3}"
        PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/streamforge/pip}" \
            "$py" -m pip install -q --no-deps --target "$torch_dir" "torch==$GPU_TORCH_VERSION"
    fi
    # tch's generated bindings name every op of its own libtorch: tch 0.26 does not compile
    # against 2.11's headers. Build a copy of the tree with the tch of that libtorch instead.
    src="$HOME/.cache/streamforge/gpu-build-src"
    rm -rf "$src" && mkdir -p "$src"
    git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$src"
    sed -i -e "s/^tch = .*/tch = \"=$GPU_TCH_VERSION\"/" -e "s/^torch-sys = .*/torch-sys = \"=$GPU_TCH_VERSION\"/" \
        "$src/workers/gnn-trainer/Cargo.toml"
    export CARGO_TARGET_DIR="$HOME/.cache/streamforge/target-gpu-$GPU_TORCH_VERSION"
    export LIBTORCH="$torch_dir/torch" STREAMFORGE_TORCH_CUDA=1
    # The CUDA libraries libtorch needs are not installed here (--no-deps): the linker may leave
    # the shared libraries' own references open; they are resolved on the GPU machine.
    export RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined"
    unset LIBTORCH_USE_PYTORCH VIRTUAL_ENV
    (cd "$src" && cargo build --release -p streamforge-gnn-trainer --bin gnn-trainer)
    mkdir -p "$(dirname "$OUT_BIN")"
    cp "$CARGO_TARGET_DIR/release/gnn-trainer" "$OUT_BIN"
    strip "$OUT_BIN" 2>/dev/null || true
    ls -la "$OUT_BIN"
    echo "carry $OUT_BIN to the GPU machine and run scripts/gpu-check.sh there"
    exit 0
fi

BIN="${GNN_TRAINER_BIN:-$OUT_BIN}"
[ -x "$BIN" ] || { echo "gpu-check: no binary at $BIN (scripts/gpu-check.sh --build makes it)" >&2; exit 2; }
TORCH_PYTHON="${TORCH_PYTHON:-/opt/torch/.venv/bin/python3}"
if [ -z "${TORCH_LIB:-}" ]; then
    TORCH_LIB="$(compgen -G "$(dirname "$(dirname "$TORCH_PYTHON")")/lib/python3*/site-packages/torch/lib" | head -n1 || true)"
fi
[ -d "${TORCH_LIB:-}" ] || { echo "gpu-check: no torch lib directory (set TORCH_LIB)" >&2; exit 2; }
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "binary $BIN, libtorch from $TORCH_LIB, $(nproc) CPU cores"

W="${GPU_CHECK_WINDOWS:-8000}"; S="${GPU_CHECK_SYMBOLS:-16}"; E="${GPU_CHECK_EPOCHS:-30}"
H="${GPU_CHECK_HIDDEN:-64}"
for model in ${GPU_CHECK_MODELS:-GCN GAT GraphSAGE}; do
    declare -A ms=()
    for device in cpu cuda; do
        out="$("$BIN" --synthetic "$W" --synthetic-symbols "$S" --model "$model" --epochs "$E" \
            --hidden "$H" --device "$device" --quiet --out "${TMPDIR:-/tmp}/gpu-check")"
        echo "$out" > "${TMPDIR:-/tmp}/gpu-check-$model-$device.json"
        ms[$device]="$(echo "$out" | sed -n 's/.*"mean_epoch_ms": \([0-9.e+-]*\).*/\1/p')"
        acc="$(echo "$out" | sed -n 's/.*"test_accuracy": \([0-9.e+-]*\).*/\1/p')"
        echo "$model $device: ${ms[$device]} ms/epoch, test accuracy $acc"
    done
    awk -v m="$model" -v c="${ms[cpu]}" -v g="${ms[cuda]}" \
        'BEGIN { printf "%s: CUDA is %.1fx the CPU speed (%.2f ms vs %.2f ms per epoch)\n", m, c / g, g, c }'
done
