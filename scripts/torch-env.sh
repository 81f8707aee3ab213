# shellcheck shell=bash
# Source this (`. scripts/torch-env.sh`) before building or testing gnn-trainer.
#
# It makes sure a Python virtual environment with PyTorch (the libtorch that tch 0.26 builds
# against) exists at $STREAMFORGE_TORCH_VENV (default $HOME/.cache/streamforge/torch-venv),
# creating it on first use (about 2.6 GB of wheels from the package index; pip's cache is kept
# outside the repository), and exports what torch-sys's build script and the binaries need:
#
#   LIBTORCH_USE_PYTORCH=1       torch-sys asks Python where torch's headers and libraries are
#   VIRTUAL_ENV, PATH            torch-sys runs `python` from PATH when VIRTUAL_ENV is set
#   STREAMFORGE_TORCH_LIB        torch's lib/ directory
#   LD_LIBRARY_PATH              starts with it (gnn-trainer also carries an rpath to it)
#   STREAMFORGE_TORCH_PYTHON     the venv's python, for the torch.load tests and the benches
#
# Quick when the venv is already there (no Python is started).
# STREAMFORGE_TORCH_PYG=1 also installs torch-geometric (pure Python) for the PyG comparison.

STREAMFORGE_TORCH_VERSION="${STREAMFORGE_TORCH_VERSION:-2.13.0}"
STREAMFORGE_TORCH_VENV="${STREAMFORGE_TORCH_VENV:-$HOME/.cache/streamforge/torch-venv}"

_sf_torch_setup() {
    local venv="$STREAMFORGE_TORCH_VENV" py
    py="$venv/bin/python"
    # The installed version is read from pip's record (no `import torch`: that takes seconds).
    if [ ! -x "$py" ] || ! compgen -G "$venv/lib/python3*/site-packages/torch-$STREAMFORGE_TORCH_VERSION*.dist-info" >/dev/null; then
        echo "torch-env: installing torch==$STREAMFORGE_TORCH_VERSION into $venv" >&2
        local base_python="${STREAMFORGE_BASE_PYTHON:-python3}"
        [ -x "$py" ] || "$base_python" -m venv "$venv" || return 1
        PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/streamforge/pip}" \
            "$venv/bin/pip" install -q "torch==$STREAMFORGE_TORCH_VERSION" numpy || return 1
    fi
    if [ "${STREAMFORGE_TORCH_PYG:-0}" = 1 ] && ! "$py" -c "import torch_geometric" 2>/dev/null; then
        PIP_CACHE_DIR="${PIP_CACHE_DIR:-$HOME/.cache/streamforge/pip}" \
            "$venv/bin/pip" install -q torch-geometric || return 1
    fi
    local lib
    lib="$(compgen -G "$venv/lib/python3*/site-packages/torch/lib" | head -n1)"
    [ -n "$lib" ] || return 1
    export LIBTORCH_USE_PYTORCH=1
    export VIRTUAL_ENV="$venv"
    case ":$PATH:" in
        *":$venv/bin:"*) ;;
        *) export PATH="$venv/bin:$PATH" ;;
    esac
    export STREAMFORGE_TORCH_LIB="$lib"
    case ":${LD_LIBRARY_PATH:-}:" in
        *":$lib:"*) ;;
        *) export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
    export STREAMFORGE_TORCH_PYTHON="$py"
}

if ! _sf_torch_setup; then
    echo "torch-env: could not prepare $STREAMFORGE_TORCH_VENV" >&2
    unset -f _sf_torch_setup
    return 1 2>/dev/null || exit 1
fi
unset -f _sf_torch_setup
