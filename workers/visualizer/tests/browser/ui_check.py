#!/usr/bin/env python3
"""Real-browser check of the visualizer frontend.

Opens every tab of a running visualizer in headless Chromium, waits for it to
finish loading and verifies that data was actually drawn: row counts, candle
counts, non-background canvas pixels, graph counts and a live topic record.

usage: ui_check.py --url http://127.0.0.1:PORT --screenshots DIR --expect expect.json
"""

import argparse
import json
import os
import re
import sys
import time
from urllib.parse import urlencode

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TAB_TIMEOUT_S = 30
# Minimum share of strongly coloured pixels on a data canvas. Background, grid,
# axes and text are all greys, so coloured pixels come from plotted data.
MIN_COLOURED_SHARE = 0.004

# Returns [coloured, total] for one canvas; "coloured" means max-min channel > 40.
COLOURED_PIXELS_JS = """
const c = arguments[0];
if (!c || !c.width || !c.height) return [0, 0];
const ctx = c.getContext('2d');
const d = ctx.getImageData(0, 0, c.width, c.height).data;
let coloured = 0;
for (let i = 0; i < d.length; i += 16) {
  const r = d[i], g = d[i + 1], b = d[i + 2];
  if (d[i + 3] > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
}
return [coloured, d.length / 16];
"""


class CheckFailed(Exception):
    def __init__(self, tab, message):
        super().__init__(f"[{tab}] {message}")
        self.tab = tab


def make_driver():
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1366,900",
                "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


class Checker:
    def __init__(self, driver, base_url, shots, expect):
        self.d = driver
        self.base = base_url.rstrip("/")
        self.shots = shots
        self.e = expect

    # ---- helpers ----
    def open_tab(self, tab, params):
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        url = f"{self.base}/{'?' + query if query else ''}#{tab}"
        self.d.get(url)
        return url

    def panel(self, tab):
        return self.d.find_element(By.CSS_SELECTOR, f'[data-testid="tab-{tab}"]')

    def panel_message(self, tab):
        els = self.d.find_elements(By.CSS_SELECTOR, f'[data-testid="tab-{tab}-message"]')
        return els[0].text.strip() if els else ""

    def wait_ready(self, tab):
        def state(_):
            s = self.panel(tab).get_attribute("data-state")
            if s == "error":
                raise CheckFailed(tab, "panel is in error state: " + (self.panel_message(tab) or "(no message)"))
            return s == "ready"
        try:
            WebDriverWait(self.d, TAB_TIMEOUT_S, poll_frequency=0.25).until(state)
        except TimeoutException:
            s = self.panel(tab).get_attribute("data-state")
            raise CheckFailed(tab, f"not ready after {TAB_TIMEOUT_S}s (data-state={s!r}, message={self.panel_message(tab)!r})")

    def wait_for(self, tab, what, fn, timeout=TAB_TIMEOUT_S):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.25).until(lambda _: fn())
        except TimeoutException:
            raise CheckFailed(tab, f"timed out after {timeout}s waiting for {what}")

    def testid(self, tab, tid, many=False):
        els = self.d.find_elements(By.CSS_SELECTOR, f'[data-testid="{tid}"]')
        if many:
            return els
        if not els:
            raise CheckFailed(tab, f'element data-testid="{tid}" is missing')
        return els[0]

    def number(self, tab, tid):
        text = self.testid(tab, tid).text.strip()
        m = re.search(r"-?\d[\d,]*", text)
        if not m:
            raise CheckFailed(tab, f'"{tid}" has no number: {text!r}')
        return int(m.group(0).replace(",", ""))

    def coloured(self, tab, canvas, label):
        got, total = self.d.execute_script(COLOURED_PIXELS_JS, canvas)
        share = got / total if total else 0.0
        if share < MIN_COLOURED_SHARE:
            raise CheckFailed(tab, f"{label} looks blank: {share:.2%} coloured pixels (need {MIN_COLOURED_SHARE:.1%})")
        return share

    def chart_coloured(self, tab, container_tid):
        box = self.testid(tab, container_tid)
        canvases = box.find_elements(By.TAG_NAME, "canvas")
        if not canvases:
            raise CheckFailed(tab, f"no chart canvas inside {container_tid}")
        best = 0.0
        for c in canvases:
            got, total = self.d.execute_script(COLOURED_PIXELS_JS, c)
            if total:
                best = max(best, got / total)
        if best < MIN_COLOURED_SHARE:
            raise CheckFailed(tab, f"chart in {container_tid} looks blank ({best:.2%} coloured pixels)")
        return best

    def check_logs(self, tab):
        errors, warnings = [], []
        for entry in self.d.get_log("browser"):
            if entry.get("level") != "SEVERE":
                continue
            msg = entry.get("message", "")
            if entry.get("source") == "network":
                warnings.append(msg)
            else:
                errors.append(msg)
        for w in warnings:
            print(f"  warning [{tab}]: network error in browser log: {w}")
        if errors:
            raise CheckFailed(tab, "JavaScript errors in browser log: " + " | ".join(errors[:5]))

    def screenshot(self, tab):
        self.d.save_screenshot(os.path.join(self.shots, f"{tab}.png"))

    # ---- tabs ----
    def webhooks(self):
        tab = "webhooks"
        self.open_tab(tab, {"queue_id": self.e.get("queue_id")})
        self.wait_ready(tab)
        rows = len(self.testid(tab, "event-row", many=True))
        need = int(self.e.get("min_events", 1))
        if rows < need:
            raise CheckFailed(tab, f"{rows} event rows, expected at least {need}")
        return f"{rows} event rows for queue {self.e.get('queue_id')!r} (>= {need})"

    def topic(self):
        tab = "topic"
        self.open_tab(tab, {"topic": self.e.get("data_topic"), "symbol": self.e.get("symbol")})
        self.wait_ready(tab)
        count = self.wait_for(tab, "at least one topic record", lambda: self.number(tab, "topic-count") >= 1 and self.number(tab, "topic-count"))
        time.sleep(2.5)
        count = self.number(tab, "topic-count")
        rows = self.wait_for(tab, "a topic row", lambda: len(self.testid(tab, "topic-row", many=True)))
        selected = self.testid(tab, "topic-select").get_attribute("value")
        if self.e.get("data_topic") and selected != self.e["data_topic"]:
            raise CheckFailed(tab, f"topic picker shows {selected!r}, expected {self.e['data_topic']!r}")
        if rows > 500:
            raise CheckFailed(tab, f"{rows} DOM rows, the list must be capped at 500")
        rate = self.testid(tab, "topic-rate").text.strip()
        if not re.search(r"\d", rate):
            raise CheckFailed(tab, f"rate figure has no number: {rate!r}")
        return f"{count} records received on {selected}, {rows} rows, rate {rate}"

    def candles(self):
        tab = "candles"
        self.open_tab(tab, {"symbol": self.e.get("symbol"), "candles_type": self.e.get("candles_type"),
                            "topic": self.e.get("data_topic")})
        self.wait_ready(tab)
        n = self.number(tab, "candle-count")
        need = int(self.e.get("min_candles", 1))
        if n < need:
            raise CheckFailed(tab, f"{n} candles drawn, expected at least {need}")
        time.sleep(0.5)
        share = self.chart_coloured(tab, "candles-chart")
        close = self.testid(tab, "candle-last-close").text.strip()
        return f"{n} candles (>= {need}), last close {close}, chart {share:.1%} coloured"

    def heatmap(self):
        tab = "heatmap"
        self.open_tab(tab, {"symbol": self.e.get("symbol"), "orderbook_topic": self.e.get("orderbook_topic")})
        self.wait_ready(tab)
        share = self.coloured(tab, self.testid(tab, "heatmap-canvas"), "heatmap canvas")
        stats = self.testid(tab, "heatmap-stats").text.strip()
        if "snapshots" not in stats:
            raise CheckFailed(tab, f"snapshot/diff/gap counts missing: {stats!r}")
        return f"canvas {share:.1%} coloured; {stats}"

    def indicators(self):
        tab = "indicators"
        self.open_tab(tab, {"symbol": self.e.get("symbol"), "candles_type": self.e.get("candles_type")})
        self.wait_ready(tab)
        legend = self.testid(tab, "indicator-legend").text
        for name in ("SMA", "EMA", "VWAP", "RSI"):
            m = re.search(name + r"\(\d+\)\s*(-?[\d.]+)", legend)
            if not m:
                raise CheckFailed(tab, f"legend has no last value for {name}: {legend!r}")
        time.sleep(0.5)
        share = self.chart_coloured(tab, "indicators-chart")
        return "legend: " + " ".join(legend.split()) + f"; chart {share:.1%} coloured"

    def gnn(self):
        tab = "gnn"
        self.open_tab(tab, {"model_graph": self.e.get("model_graph"), "model_run": self.e.get("model_run")})
        self.wait_ready(tab)
        want = f"{self.e.get('model_graph')}/{self.e.get('model_run')}"
        chosen = self.testid(tab, "gnn-model-select").get_attribute("value")
        if self.e.get("model_run") and chosen != want:
            raise CheckFailed(tab, f"model picker shows {chosen!r}, expected {want!r}")
        curves = self.coloured(tab, self.testid(tab, "gnn-curves"), "training curves canvas")
        preds = self.coloured(tab, self.testid(tab, "gnn-predictions"), "predictions canvas")
        metrics = len(self.testid(tab, "gnn-metric-row", many=True))
        if metrics < 1:
            raise CheckFailed(tab, "metrics table has no rows: " + self.testid(tab, "gnn-metrics").text.strip())
        return f"model {chosen}; curves {curves:.1%}, predictions {preds:.1%} coloured; {metrics} metric rows"

    def graph(self):
        tab = "graph"
        self.open_tab(tab, {"graph": self.e.get("graph")})
        self.wait_ready(tab)
        counts = self.testid(tab, "graph-counts").text.strip()
        m = re.match(r"(\d+) nodes · (\d+) edges", counts)
        if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
            raise CheckFailed(tab, f"graph counts not > 0: {counts!r}")
        canvas = self.testid(tab, "graph-canvas")
        self.wait_for(tab, "the layout to settle", lambda: canvas.get_attribute("data-settled") == "true")
        share = self.coloured(tab, canvas, "graph canvas")
        sample = canvas.get_attribute("data-node-sample")
        if not sample:
            raise CheckFailed(tab, "no node position published after layout")
        x, y = (int(v) for v in sample.split(","))
        rect = self.d.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", canvas)
        ActionChains(self.d).move_to_element_with_offset(canvas, x - rect[0] / 2, y - rect[1] / 2).click().perform()
        details = self.wait_for(tab, "node details after clicking a node",
                                lambda: (lambda t: t if "symbol" in t else False)(self.testid(tab, "graph-node-details").text))
        node = details.splitlines()[0] if details else ""
        return f"{counts}; canvas {share:.1%} coloured; clicked {node.strip()} and saw its features"


TABS = ["webhooks", "topic", "candles", "heatmap", "indicators", "gnn", "graph"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--screenshots", required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--tabs", default=",".join(TABS), help="comma separated subset of tabs")
    args = ap.parse_args()
    with open(args.expect) as f:
        expect = json.load(f)
    os.makedirs(args.screenshots, exist_ok=True)

    try:
        driver = make_driver()
    except WebDriverException as e:
        print(f"FAIL: could not start headless chromium: {e.msg}", file=sys.stderr)
        return 2
    checker = Checker(driver, args.url, args.screenshots, expect)
    try:
        for tab in [t.strip() for t in args.tabs.split(",") if t.strip()]:
            started = time.time()
            try:
                summary = getattr(checker, tab)()
                checker.check_logs(tab)
            except CheckFailed as e:
                try:
                    checker.screenshot(tab)
                except WebDriverException:
                    pass
                print(f"FAIL {e}", file=sys.stderr)
                return 1
            except WebDriverException as e:
                print(f"FAIL [{tab}] browser error: {e.msg}", file=sys.stderr)
                return 1
            checker.screenshot(tab)
            print(f"ok   {tab:<10} {summary} ({time.time() - started:.1f}s)")
    finally:
        driver.quit()
    print("all tabs passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
