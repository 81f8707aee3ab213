#!/usr/bin/env bash
# Operator figures with many Queues, on the platform `e2e/run.sh` left running (E2E_DOWN=0):
# N suspended Queues (their pods never run), then the operator's peak resident memory, CPU
# seconds per reconcile, and API requests per Queue while nothing changes.
#
#   bash e2e/bench-operator.sh [N]      (default 1000)
#
# Memory and CPU are read from the operator's process on this node (/proc); reconciles from its
# /metrics (through the API server's service proxy); API requests from the API server's own
# apiserver_request_total, all clients together, so the rest window shows what the operator
# alone costs when nothing else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source e2e/platform/common.sh
n="${1:-1000}"
ns=streamforge-bench
rest_s="${BENCH_REST_SECONDS:-120}"
k() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

pid() { pgrep -f '^/usr/local/bin/streamforge-operator' | head -n1; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$(pid)/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$(pid)/status"; }
# utime + stime of the operator, in seconds.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$(pid)/stat"; }
metric() {
  k get --raw "/api/v1/namespaces/streamforge/services/streamforge-operator-metrics:http/proxy/metrics" |
    awk -v m="$1" '$1 == m {print $2}'
}
api_requests() {
  k get --raw /metrics | awk '/^apiserver_request_total\{/ && !/verb="WATCH"/ {s += $NF} END {printf "%d\n", s}'
}

k get namespace "$ns" >/dev/null 2>&1 || k create namespace "$ns"
echo "bench-operator: $n suspended Queues in $ns"
cpu0=$(cpu_s)
rec0=$(metric streamforge_reconciles_total)
t0=$SECONDS
for ((i = 0; i < n; i += 100)); do
  for ((j = i; j < i + 100 && j < n; j++)); do
    printf -- "---\napiVersion: streamforge.io/v1alpha1\nkind: Queue\nmetadata:\n  name: bench-%04d\nspec:\n  target: dummy-service\n  type: dummy_load\n  symbol: BTCUSDT\n  timeRange: \"2024-08-01:2024-08-02\"\n  suspend: true\n" "$j"
  done | k apply -n "$ns" -f - >/dev/null
done
until [[ "$(k get queues -n "$ns" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c '^Stopped$')" -ge "$n" ]]; do
  sleep 2
done
settle_s=$((SECONDS - t0))
cpu1=$(cpu_s)
rec1=$(metric streamforge_reconciles_total)
echo "bench-operator: all $n Stopped after ${settle_s} s; resting ${rest_s} s"
api0=$(api_requests)
cpu_r0=$(cpu_s)
sleep "$rest_s"
api1=$(api_requests)
cpu_r1=$(cpu_s)
reconciles=$(awk -v a="$rec0" -v b="$rec1" 'BEGIN {print b - a}')
printf 'FIGURES operator %d Queues: RSS %d KiB now, peak %d KiB; %d reconciles in %d s, %.2f ms CPU each; at rest %.3f API requests per Queue per minute, %.1f ms CPU per minute\n' \
  "$n" "$(rss_kib)" "$(hwm_kib)" "$reconciles" "$settle_s" \
  "$(awk -v a="$cpu0" -v b="$cpu1" -v r="$reconciles" 'BEGIN {print (b - a) * 1000 / (r > 0 ? r : 1)}')" \
  "$(awk -v a="$api0" -v b="$api1" -v n="$n" -v s="$rest_s" 'BEGIN {print (b - a) / n * 60 / s}')" \
  "$(awk -v a="$cpu_r0" -v b="$cpu_r1" -v s="$rest_s" 'BEGIN {print (b - a) * 1000 * 60 / s}')"
if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
  k delete namespace "$ns" --wait=false >/dev/null
fi
