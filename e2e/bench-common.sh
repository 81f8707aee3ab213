# Pieces the loader benchmarks share: the release binaries, the broker, the exchange simulator
# and starting a loader the way a Queue's Job does. Sourced, not executed.
# shellcheck shell=bash

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/streamforge/target}"
bin="$CARGO_TARGET_DIR/release"
broker="127.0.0.1:${KAFKA_PORT:-9092}"

bench_pids=()
bench_started_broker=false

# Release builds of the loader and the simulator.
bench_build() {
  bash scripts/setup.sh
  cargo build --release --locked -p streamforge-loader -p binance-sim
}

# Starts the broker unless one already answers on $broker; stops at exit only one started here.
bench_start_broker() {
  if ! (exec 3<>"/dev/tcp/${broker%:*}/${broker##*:}") 2>/dev/null; then
    bench_started_broker=true
  fi
  bash e2e/kafka/start.sh
}

# Starts the simulator on `addr` with the remaining arguments and waits until it answers.
bench_start_sim() {
  local addr=$1
  shift
  "$bin/binance-sim" --addr "$addr" "$@" >/dev/null 2>&1 &
  bench_pids+=("$!")
  for _ in $(seq 50); do
    curl -fsS "http://$addr/sim/stats" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "binance-sim did not answer on $addr" >&2
  return 1
}

# Stops the processes started here, most recent first.
bench_stop() {
  local i
  for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do
    kill "${bench_pids[$i]}" 2>/dev/null || true
    wait "${bench_pids[$i]}" 2>/dev/null || true
  done
  bench_pids=()
}

bench_cleanup() {
  bench_stop
  if $bench_started_broker; then bash e2e/kafka/stop.sh || true; fi
}

# Runs the loader as a Queue's Job would for one load, to completion or a signal:
#   bench_loader QUEUE_ID SYMBOL TYPE TIME_RANGE SIM_ADDR WEIGHT_BUDGET [prefix command...]
# Its data goes to the topic "$QUEUE_ID-data" on $broker; its /metrics to a free port (several
# loaders run at once). It becomes the loader (exec), so call it in a subshell: `$(bench_loader
# ...)`, or `bench_loader ... &`, which leaves the loader's own pid in $! for a signal.
bench_loader() {
  local id=$1 symbol=$2 type=$3 range=$4 sim=$5 budget=$6
  shift 6
  exec env QUEUE_ID="$id" TELEMETRY_PRODUCER_ID="loader-producer__bench" SYMBOL="$symbol" \
    TYPE="$type" TIME_RANGE="$range" KAFKA_TOPIC="$id-data" KAFKA_BOOTSTRAP_SERVERS="$broker" \
    BINANCE_BASE_URL="http://$sim" WAIT_FOR_START=false WEIGHT_BUDGET="$budget" \
    METRICS_ADDR=127.0.0.1:0 RUST_LOG="${RUST_LOG:-warn}" "$@" "$bin/loader"
}
