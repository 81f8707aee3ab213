#!/usr/bin/env bash
# A Python environment with pyarrow, the independent Parquet reader the lake tests use, DuckDB
# and polars (the readers a lake user queries with, tests/lake_readers.rs), PyYAML (the
# dashboard check reads the chart's PodMonitor with it), and
# TA-Lib (with numpy), the reference the indicators are compared against.
# Idempotent; prints the interpreter's path on its last line.
set -euo pipefail
cache="${STREAMFORGE_CACHE:-$HOME/.cache/streamforge}"
venv="$cache/pyenv"
if ! "$venv/bin/python" -c 'import pyarrow.dataset, pyarrow.fs, talib, selenium, duckdb, polars, yaml' >/dev/null 2>&1; then
  echo "test python: installing pyarrow, numpy, ta-lib, selenium, duckdb, polars and PyYAML into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyarrow==26.0.1' numpy 'ta-lib==0.8.2' 'selenium==4.51.0' 'duckdb==1.5.6' 'polars==1.44.2' 'PyYAML==6.0.3' >&2
fi
echo "$venv/bin/python"
