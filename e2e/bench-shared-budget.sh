#!/usr/bin/env bash
# Several loaders sharing one IP's Binance weight budget: 1, 2 and 4 loader processes at once on
# 127.0.0.1 (one IP to the exchange) against the exchange simulator with a small weight limit, so
# that every clock minute is limited by weight. Per run it prints the weight the simulator counted
# in each whole clock minute (the sum over the loaders) as a % of its limit, and the 429 and 418
# answers of the whole run (the partial first and last minutes included).
#
# Each loader gets WEIGHT_BUDGET = limit x BUDGET_FRACTION, the IP's budget as an operator sets
# it for every Queue on a node: the loaders correct their counts from the IP-wide
# X-MBX-USED-WEIGHT-1M header, so a per-loader share would stop them all at the share.
# Loader i loads its own symbol into its own topic: odd i api_candles_1m over years, even i
# api_trades over a month, both far longer than a run.
#
# Environment: SIM_WEIGHT_LIMIT (default 1200), BUDGET_FRACTION (0.9), WINDOWS (whole minutes per
# run, 3), LOADERS ("1 2 4"), SIM_ADDR (127.0.0.1:9401), KAFKA_PORT (the broker, 9092).
# Starts the broker (e2e/kafka/start.sh) unless one answers; takes about 4 minutes per run.
set -euo pipefail
source "$(dirname "$0")/bench-common.sh"

limit="${SIM_WEIGHT_LIMIT:-1200}"
fraction="${BUDGET_FRACTION:-0.9}"
windows="${WINDOWS:-3}"
sim="${SIM_ADDR:-127.0.0.1:9401}"
budget=$(awk -v l="$limit" -v f="$fraction" 'BEGIN { printf "%d", l * f }')
symbols=(BTCUSDT ETHUSDT BNBUSDT SOLUSDT)
logs="${BENCH_LOG_DIR:-$(mktemp -d -t bench-shared-XXXXXX)}"

bench_build
bench_start_broker
trap bench_cleanup EXIT

now_ms() { date +%s%3N; }

echo "== weight limit $limit/min per IP, WEIGHT_BUDGET $budget per loader ($fraction), $windows whole minutes per run; loader logs in $logs"
printf '%-8s %-40s %-9s %-5s %-5s\n' loaders "% of limit per whole minute" mean 429s 418s
for n in ${LOADERS:-1 2 4}; do
  bench_start_sim "$sim" --weight-limit "$limit" --symbols "$(IFS=,; echo "${symbols[*]}")"
  # Start the loaders a few seconds before a minute boundary; their setup (topic, resume point)
  # falls in that partial minute, and the whole minutes after it are measured.
  until (($(now_ms) % 60000 >= 52000)); do sleep 0.5; done
  first=$(($(now_ms) / 60000 * 60000 + 60000))
  loaders=()
  for ((i = 1; i <= n; i++)); do
    id="bench-shared-$n-$i-$$"
    if ((i % 2)); then
      type=api_candles_1m range=2018-01-01:2024-01-01
    else
      type=api_trades range=2024-01-01:2024-02-01
    fi
    bench_loader "$id" "${symbols[$((i - 1))]}" "$type" "$range" "$sim" "$budget" \
      >"$logs/$id.log" 2>&1 &
    loaders+=("$!")
  done
  end=$((first + windows * 60000))
  until (($(now_ms) >= end + 1000)); do sleep 0.5; done
  # Every loader must still be loading when the measured minutes end, or the run is void.
  for p in "${loaders[@]}"; do
    kill -TERM "$p" 2>/dev/null || { echo "a loader ended before the run did; see $logs" >&2; exit 1; }
  done
  for p in "${loaders[@]}"; do wait "$p" 2>/dev/null || true; done
  stats=$(curl -fsS "http://$sim/sim/stats")
  echo "$stats" >"$logs/sim-stats-$n.json"
  bench_stop
  echo "$stats" | jq -r --argjson n "$n" --argjson first "$first" --argjson stop "$end" '
    .weight_limit as $l
    | [.windows[] | select(.start_ms >= $first and .start_ms < $stop) | .used * 100 / $l] as $p
    | [$n, ($p | map(. * 10 | round / 10 | tostring) | join(" ")),
       (if ($p | length) > 0 then ($p | add / length * 10 | round / 10) else "-" end),
       .throttled_429, .banned_418]
    | "\(.[0])\t\(.[1])\t\(.[2])\t\(.[3])\t\(.[4])"' |
    awk -F'\t' '{ printf "%-8s %-40s %-9s %-5s %-5s\n", $1, $2, $3, $4, $5 }'
done
