#!/usr/bin/env python3
"""streamforge-indicators against TA-Lib on the same price series.

Generates a seeded geometric random walk of candles (high, low, close, volume), runs the
`indicator_series` example on it (our SMA, EMA, RSI and VWAP, each timed best of --repeat), runs
TA-Lib's SMA, EMA and RSI on the same series (timed the same way), and compares them from the
end of each indicator's warm-up: TA-Lib's lookback (its unstable period is 0 by default, and
in its default compatibility mode EMA is seeded with the SMA of the first n values, as ours is).
Before that, both sides must be undefined (ours null, TA-Lib NaN).

TA-Lib has no rolling VWAP, so VWAP is compared with a numpy reference written from the
definition: each window's sum(tp * v) / sum(v), tp = (h + l + c) / 3, summed afresh per window
(no running sums), and the plain mean of tp where the window traded nothing. Its time is given
for information only.

One known difference by definition, not exercised by these series: where the average gain and
loss are both ~0 (no price change over the window), TA-Lib's RSI is 0 and ours 50.

Prints the largest relative difference per indicator, |ours - ref| / |ref|, and ns per element
for both, and exits 1 if any difference exceeds --tol (1e-9) or the undefined positions differ.

  talib_compare.py [--n 1000000] [--period 14] [--repeat 5] [--seed 7] [--bin PATH]
  talib_compare.py --check-only --n 5000          comparison only, no timing
  talib_compare.py --check-only --csv C.csv --compare OURS.json
      compare our values already computed (the integration test writes both files)

Without --bin the example is built with `cargo build --release -p streamforge-indicators
--example indicator_series` and taken from $CARGO_TARGET_DIR (default: the workspace's target/).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import talib
from talib import abstract

ROOT = Path(__file__).resolve().parents[3]
INDICATORS = ("sma", "ema", "rsi", "vwap")


def random_walk(n, seed):
    """Candles of a geometric random walk from 100 (per-step log-return sd 0.001), with ~1% of
    candles that traded nothing."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 5e-4, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 5e-4, n)))
    volume = rng.lognormal(3.0, 1.0, n)
    volume[rng.random(n) < 0.01] = 0.0
    return high, low, close, volume


def write_csv(path, high, low, close, volume):
    # %.17g: every float64 reads back exactly.
    np.savetxt(path, np.column_stack((high, low, close, volume)), fmt="%.17g",
               delimiter=",", header="high,low,close,volume", comments="")


def read_csv(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return tuple(np.ascontiguousarray(data[:, k]) for k in range(4))


def vwap_reference(high, low, close, volume, n):
    out = np.full(len(close), np.nan)
    if len(close) < n:
        return out
    tp = (high + low + close) / 3.0
    win = np.lib.stride_tricks.sliding_window_view
    pv = win(tp * volume, n).sum(axis=1)
    v = win(volume, n).sum(axis=1)
    mean_tp = win(tp, n).sum(axis=1) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        out[n - 1:] = np.where(v > 0, pv / v, mean_tp)
    return out


def best_of(repeat, f):
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = f()
        best = min(best, time.perf_counter() - start)
    return result, best


def references(high, low, close, volume, n, repeat):
    """Reference values, their warm-up (first defined index) and seconds, per indicator."""
    out = {}
    for name, fn in (("sma", "SMA"), ("ema", "EMA"), ("rsi", "RSI")):
        f = getattr(talib, fn)
        values, secs = best_of(repeat, lambda: f(close, timeperiod=n))
        lookback = abstract.Function(fn, timeperiod=n).lookback
        out[name] = (values, lookback, secs, "TA-Lib")
    values, secs = best_of(repeat, lambda: vwap_reference(high, low, close, volume, n))
    out["vwap"] = (values, n - 1, secs, "numpy reference")
    return out


def compare(ours, ref, lookback):
    """(largest relative difference after the warm-up, its index, list of problems)."""
    ours = np.array([math.nan if v is None else v for v in ours], dtype=float)
    problems = []
    if len(ours) != len(ref):
        return math.inf, -1, [f"length {len(ours)} vs {len(ref)}"]
    head = min(lookback, len(ref))
    bad = np.flatnonzero(~np.isnan(ours[:head]) | ~np.isnan(ref[:head]))
    if bad.size:
        problems.append(f"defined during the warm-up (first {lookback}) at index {bad[0]}")
    a, b = ours[head:], ref[head:]
    undefined = np.flatnonzero(~np.isfinite(a) | ~np.isfinite(b))
    if undefined.size:
        i = head + undefined[0]
        problems.append(f"undefined after the warm-up at index {i}: {ours[i]} vs {ref[i]}")
        return math.inf, i, problems
    if a.size == 0:
        return 0.0, -1, problems
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(b != 0, np.abs(a - b) / np.abs(b), np.abs(a - b))
    k = int(np.argmax(rel))
    return float(rel[k]), head + k, problems


def build_example():
    subprocess.run(["cargo", "build", "--release", "-p", "streamforge-indicators",
                    "--example", "indicator_series"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "examples" / "indicator_series"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000, help="candles to generate")
    p.add_argument("--period", type=int, default=14)
    p.add_argument("--repeat", type=int, default=5, help="runs per indicator; the best counts")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--tol", type=float, default=1e-9, help="largest relative difference allowed")
    p.add_argument("--bin", help="the indicator_series example (built when absent)")
    p.add_argument("--csv", help="read the candles from this CSV instead of generating them")
    p.add_argument("--compare", help="our values as indicator_series writes them; "
                   "nothing is run (needs --csv)")
    p.add_argument("--check-only", action="store_true", help="compare only, no timing")
    args = p.parse_args()
    if args.compare and not args.csv:
        p.error("--compare needs --csv, the series those values were computed from")
    repeat = 1 if args.check_only else args.repeat

    with tempfile.TemporaryDirectory() as tmp:
        if args.csv:
            csv = args.csv
            high, low, close, volume = read_csv(csv)
        else:
            csv = os.path.join(tmp, "candles.csv")
            high, low, close, volume = random_walk(args.n, args.seed)
            write_csv(csv, high, low, close, volume)
        if args.compare:
            ours_path = args.compare
        else:
            binary = args.bin or build_example()
            ours_path = os.path.join(tmp, "ours.json")
            subprocess.run([str(binary), csv, "--out", ours_path, "--period", str(args.period),
                            "--repeat", str(repeat)], check=True)
        with open(ours_path) as f:
            ours = json.load(f)
    if ours.get("period", args.period) != args.period:
        sys.exit(f"{ours_path} was computed with period {ours['period']}, not {args.period}")
    refs = references(high, low, close, volume, args.period, repeat)

    print(f"{len(close)} candles, period {args.period}, best of {repeat}")
    print("| indicator | reference | warm-up | max relative difference | at index |"
          + ("" if args.check_only else " ours ns/element | reference ns/element | ours / reference |"))
    print("|---|---|---|---|---|" + ("" if args.check_only else "---|---|---|"))
    failed = []
    for name in INDICATORS:
        ref, lookback, secs, label = refs[name]
        rel, at, problems = compare(ours[name], ref, lookback)
        row = f"| {name.upper()} | {label} | {lookback} | {rel:.3e} | {at} |"
        if not args.check_only:
            mine = ours["ns_per_element"][name]
            theirs = secs * 1e9 / max(len(close), 1)
            row += f" {mine:.2f} | {theirs:.2f} | {mine / theirs:.2f} |"
        print(row)
        if rel > args.tol:
            problems.append(f"relative difference {rel:.3e} > {args.tol:g} at index {at}")
        failed += [f"{name}: {m}" for m in problems]
    for m in failed:
        print("FAIL", m, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
