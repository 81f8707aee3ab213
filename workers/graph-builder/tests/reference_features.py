"""Reference implementation of graph-builder's node features and labels, in plain Python
(standard library only), written from the definitions in docs/graph-features.md and not from
the Rust code. Reads {"high","low","close","volume","horizon"} as JSON on stdin and prints one
list per feature and label, null where a value is undefined (warm-up, or no future).
"""

import json
import math
import statistics
import sys


def lagged(xs, n, f):
    return [f(xs[i], xs[i - n]) if i >= n else None for i in range(len(xs))]


def trailing(xs, n, f):
    out = []
    for i in range(len(xs)):
        window = xs[max(0, i - n + 1): i + 1]
        ok = i + 1 >= n and all(v is not None for v in window)
        out.append(f(window) if ok else None)
    return out


def ema(xs, n):
    out = [None] * len(xs)
    if len(xs) < n:
        return out
    alpha = 2.0 / (n + 1)
    value = sum(xs[:n]) / n
    out[n - 1] = value
    for i in range(n, len(xs)):
        value = alpha * xs[i] + (1 - alpha) * value
        out[i] = value
    return out


def rsi(close, n):
    out = [None] * len(close)
    if len(close) <= n:
        return out
    gains = [max(close[i] - close[i - 1], 0.0) for i in range(1, len(close))]
    losses = [max(close[i - 1] - close[i], 0.0) for i in range(1, len(close))]
    avg_gain = sum(gains[:n]) / n
    avg_loss = sum(losses[:n]) / n

    def value(g, l):
        if l == 0:
            return 50.0 if g == 0 else 100.0
        return 100.0 - 100.0 / (1.0 + g / l)

    out[n] = value(avg_gain, avg_loss)
    for i in range(n + 1, len(close)):
        avg_gain = (avg_gain * (n - 1) + gains[i - 1]) / n
        avg_loss = (avg_loss * (n - 1) + losses[i - 1]) / n
        out[i] = value(avg_gain, avg_loss)
    return out


def vwap(high, low, close, volume, n):
    out = []
    for i in range(len(close)):
        if i + 1 < n:
            out.append(None)
            continue
        js = range(i - n + 1, i + 1)
        typical = [(high[j] + low[j] + close[j]) / 3 for j in js]
        vols = [volume[j] for j in js]
        total = sum(vols)
        if total > 0:
            out.append(sum(t * v for t, v in zip(typical, vols)) / total)
        else:
            out.append(sum(typical) / n)
    return out


def gap(close, ref):
    return [None if r is None else c / r - 1 for c, r in zip(close, ref)]


def main():
    data = json.load(sys.stdin)
    high, low, close, volume = data["high"], data["low"], data["close"], data["volume"]
    h = data["horizon"]
    log_returns = lagged(close, 1, lambda now, then: math.log(now / then))
    out = {
        "return": lagged(close, 1, lambda now, then: now / then - 1),
        "log_return": log_returns,
        "volatility": trailing(log_returns, 20, statistics.stdev),
        "log_volume": [math.log1p(v) for v in volume],
        "rsi": rsi(close, 14),
        "vwap_gap": gap(close, vwap(high, low, close, volume, 20)),
        "sma_gap": gap(close, trailing(close, 20, lambda w: sum(w) / len(w))),
        "ema_gap": gap(close, ema(close, 20)),
        "momentum": lagged(close, 10, lambda now, then: now / then - 1),
        "range": [(hi - lo) / c for hi, lo, c in zip(high, low, close)],
        "close_location": [
            (c - lo) / (hi - lo) if hi > lo else 0.5 for hi, lo, c in zip(high, low, close)
        ],
        "price_up": [
            (1 if close[i + h] > close[i] else 0) if i + h < len(close) else None
            for i in range(len(close))
        ],
        "future_volatility_raw": [
            math.sqrt(sum(math.log(close[j] / close[j - 1]) ** 2 for j in range(i + 1, i + h + 1)) / h)
            if i + h < len(close)
            else None
            for i in range(len(close))
        ],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
