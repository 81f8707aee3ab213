//! Self-contained HTML reports, the visualizer's output as a Queue target: one file with its
//! styles and inline SVG charts, no script and nothing fetched, so it opens anywhere (from
//! MinIO, a mail, a laptop without network).
//!
//! | type | report |
//! |---|---|
//! | `candles_indicators` | candles with SMA, EMA and VWAP, volume, RSI, and a summary |
//! | `plot_graph` | a graph's latest windows (nodes by symbol and time, edges by kind), its manifest and feature ranges |

pub mod svg;

use std::fmt::Write;

use chrono::{DateTime, Utc};
use streamforge_graph::{EdgeKind, Graph};
use streamforge_graph_builder::candles::Candle;
use streamforge_indicators as ind;

use svg::{Plot, escape, time_labels};

/// The report types this worker renders.
pub const TYPES: [&str; 2] = ["candles_indicators", "plot_graph"];

/// Indicator periods of the candle report.
pub const PERIODS: Periods = Periods {
    rsi: 14,
    sma: 20,
    ema: 20,
    vwap: 20,
};

#[derive(Clone, Copy, Debug)]
pub struct Periods {
    pub rsi: usize,
    pub sma: usize,
    pub ema: usize,
    pub vwap: usize,
}

fn when(ms: f64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}}
header{{background:#1d2330;color:#fff;padding:14px 24px}} header h1{{margin:0;font-size:18px}}
header p{{margin:4px 0 0;color:#b8c0d0;font-size:13px}}
main{{max-width:1100px;margin:0 auto;padding:16px 24px}}
section{{background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:12px 16px;margin:0 0 16px}}
h2{{font-size:15px;margin:0 0 8px}} table{{border-collapse:collapse;font-size:13px}}
td,th{{padding:3px 12px 3px 0;text-align:left}} th{{color:#667}} .legend span{{margin-right:14px;font-size:12px}}
.empty{{color:#667;font-style:italic}} footer{{color:#889;font-size:12px;padding:0 24px 24px;max-width:1100px;margin:0 auto}}
</style></head>
<body><header><h1>{t}</h1><p>{s}</p></header><main>
{body}
</main><footer>StreamForge visualizer {v} · rendered {now}</footer></body></html>
"#,
        t = escape(title),
        s = escape(subtitle),
        v = env!("CARGO_PKG_VERSION"),
        now = Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
    )
}

fn table(rows: &[(&str, String)]) -> String {
    let mut s = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    s.push_str("</table>");
    s
}

fn fmt_price(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.6}")
    }
}

/// The `candles_indicators` report of `symbol`'s candles.
pub fn candles_indicators(
    symbol: &str,
    data_type: &str,
    range: &str,
    candles: &[Candle],
) -> String {
    let title = format!("{symbol} · {data_type} with indicators");
    if candles.is_empty() {
        let body = format!(
            r#"<section><p class="empty">No {} candles of {} in {}.</p></section>"#,
            escape(data_type),
            escape(symbol),
            escape(range)
        );
        return page(&title, range, &body);
    }
    let p = PERIODS;
    let col = |f: fn(&Candle) -> f64| candles.iter().map(f).collect::<Vec<f64>>();
    let (t, high, low, close, volume) = (
        col(|c| c.open_time as f64),
        col(|c| c.high),
        col(|c| c.low),
        col(|c| c.close),
        col(|c| c.volume),
    );
    let sma = ind::sma(&close, p.sma);
    let ema = ind::ema(&close, p.ema);
    let vwap = ind::vwap(&high, &low, &close, &volume, p.vwap);
    let rsi = ind::rsi_wilder(&close, p.rsi);
    let (x0, x1) = (t[0], t[t.len() - 1]);
    let lo = low.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = high.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let step = if t.len() > 1 {
        (x1 - x0) / (t.len() - 1) as f64
    } else {
        60_000.0
    };
    let mut price = Plot::new(1000.0, 420.0, (x0 - step, x1 + step), (lo, hi));
    let body_w = ((1000.0 - 2.0 * price.margin) / (t.len() as f64 + 2.0) * 0.7).clamp(0.5, 12.0);
    price.axes(5, fmt_price, &time_labels(x0, x1, 5, when));
    for (i, c) in candles.iter().enumerate() {
        let colour = if c.close >= c.open {
            "#26a69a"
        } else {
            "#ef5350"
        };
        price.line((t[i], c.low), (t[i], c.high), colour, 1.0);
        price.rect(
            t[i],
            c.open.max(c.close),
            body_w,
            c.open.min(c.close),
            colour,
            "candle",
        );
    }
    let pts = |v: &[f64]| t.iter().copied().zip(v.iter().copied()).collect::<Vec<_>>();
    price.polyline(&pts(&sma), "#1e88e5", "sma");
    price.polyline(&pts(&ema), "#8e24aa", "ema");
    price.polyline(&pts(&vwap), "#f9a825", "vwap");

    let vmax = volume.iter().copied().fold(0.0, f64::max);
    let mut vol = Plot::new(1000.0, 140.0, (x0 - step, x1 + step), (0.0, vmax));
    vol.axes(2, |v| format!("{v:.1}"), &[]);
    for (i, c) in candles.iter().enumerate() {
        let colour = if c.close >= c.open {
            "#80cbc4"
        } else {
            "#ef9a9a"
        };
        vol.rect(t[i], c.volume, body_w, 0.0, colour, "volume");
    }

    let mut rsi_plot = Plot::new(1000.0, 180.0, (x0 - step, x1 + step), (0.0, 100.0));
    rsi_plot.axes(4, |v| format!("{v:.0}"), &time_labels(x0, x1, 5, when));
    rsi_plot.line((x0 - step, 70.0), (x1 + step, 70.0), "#ef9a9a", 1.0);
    rsi_plot.line((x0 - step, 30.0), (x1 + step, 30.0), "#80cbc4", 1.0);
    rsi_plot.polyline(&pts(&rsi), "#5e35b1", "rsi");

    let last = |v: &[f64]| {
        v.iter()
            .rev()
            .find(|x| x.is_finite())
            .map_or("—".into(), |x| fmt_price(*x))
    };
    let first_close = close[0];
    let last_close = close[close.len() - 1];
    let summary = table(&[
        ("Candles", candles.len().to_string()),
        ("From", when(x0)),
        ("To", when(x1)),
        ("Last close", fmt_price(last_close)),
        (
            "Change",
            format!("{:+.2} %", (last_close / first_close - 1.0) * 100.0),
        ),
        (
            "High / low",
            format!("{} / {}", fmt_price(hi), fmt_price(lo)),
        ),
        ("Volume", format!("{:.3}", volume.iter().sum::<f64>())),
        (&format!("SMA({})", p.sma), last(&sma)),
        (&format!("EMA({})", p.ema), last(&ema)),
        (&format!("VWAP({})", p.vwap), last(&vwap)),
        (
            &format!("RSI({})", p.rsi),
            last(&rsi).replace(".000000", ""),
        ),
    ]);
    let legend = format!(
        r#"<p class="legend"><span style="color:#1e88e5">■ SMA({})</span><span style="color:#8e24aa">■ EMA({})</span><span style="color:#f9a825">■ VWAP({})</span></p>"#,
        p.sma, p.ema, p.vwap
    );
    let body = format!(
        r#"<section><h2>Summary</h2>{summary}</section>
<section id="price"><h2>Price</h2>{legend}{}</section>
<section id="volume"><h2>Volume</h2>{}</section>
<section id="rsi"><h2>RSI({})</h2>{}</section>"#,
        price.finish("candles"),
        vol.finish("volume"),
        p.rsi,
        rsi_plot.finish("rsi"),
    );
    page(&title, range, &body)
}

/// The `plot_graph` report: the latest windows that fit in `max_nodes`, one lane per symbol.
pub fn plot_graph(g: &Graph, max_nodes: usize) -> String {
    let m = &g.manifest;
    let title = format!("Graph {}", m.graph_name);
    let subtitle = format!(
        "{} · {} · {}",
        m.symbols.join(", "),
        m.source_type,
        m.time_range
    );
    let summary = table(&[
        ("Nodes", m.node_count.to_string()),
        ("Edges", m.edge_count.to_string()),
        ("Symbols", m.symbols.join(", ")),
        ("Source", m.source_type.clone()),
        ("Time range", m.time_range.clone()),
        ("Features", m.features.join(", ")),
        ("Labels", m.labels.join(", ")),
        ("Created", m.created_at.clone()),
    ]);
    if g.nodes.is_empty() {
        let body = format!(
            r#"<section><h2>Summary</h2>{summary}</section><section><p class="empty">The graph has no nodes.</p></section>"#
        );
        return page(&title, &subtitle, &body);
    }
    let chosen = crate::api::latest_nodes(g, max_nodes);
    let lanes: Vec<&String> = m.symbols.iter().collect();
    let lane = |s: &str| lanes.iter().position(|l| l.as_str() == s).unwrap_or(0) as f64;
    let times: Vec<f64> = chosen
        .iter()
        .map(|&i| g.nodes.window_start[i] as f64)
        .collect();
    let (x0, x1) = (
        times.iter().copied().fold(f64::INFINITY, f64::min),
        times.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let height = (120.0 + 70.0 * lanes.len() as f64).min(900.0);
    let mut plot = Plot::new(1000.0, height, (x0, x1), (-0.5, lanes.len() as f64 - 0.5));
    plot.axes(0, |_| String::new(), &time_labels(x0, x1, 5, when));
    for (k, s) in lanes.iter().enumerate() {
        let y = plot.sy(k as f64);
        plot.text(plot.margin - 4.0, y + 4.0, s, "end");
    }
    let pos: std::collections::HashMap<i64, (f64, f64)> = chosen
        .iter()
        .map(|&i| {
            (
                g.nodes.node_id[i],
                (g.nodes.window_start[i] as f64, lane(&g.nodes.symbol[i])),
            )
        })
        .collect();
    let mut shown = (0usize, 0usize);
    for e in 0..g.edges.len() {
        let (Some(a), Some(b)) = (pos.get(&g.edges.src[e]), pos.get(&g.edges.dst[e])) else {
            continue;
        };
        let (colour, width) = match g.edges.kind[e] {
            EdgeKind::Temporal => ("#b0bec5", 1.0),
            EdgeKind::CrossAsset => ("#ff7043", 0.5 + g.edges.weight[e].abs().min(1.0)),
        };
        plot.line(*a, *b, colour, width);
        match g.edges.kind[e] {
            EdgeKind::Temporal => shown.0 += 1,
            EdgeKind::CrossAsset => shown.1 += 1,
        }
    }
    let label = g.nodes.labels.first();
    for &i in &chosen {
        let (x, y) = pos[&g.nodes.node_id[i]];
        let l = label.and_then(|(_, v)| v[i]);
        let fill = match l {
            Some(1) => "#26a69a",
            Some(_) => "#ef5350",
            None => "#9e9e9e",
        };
        let tip = format!(
            "node {} · {} · {} · {}",
            g.nodes.node_id[i],
            g.nodes.symbol[i],
            when(x),
            l.map_or("unlabelled".into(), |v| format!(
                "{} = {v}",
                label.map_or("label", |(n, _)| n.as_str())
            ))
        );
        plot.circle(x, y, 3.5, fill, &tip);
    }
    let mut stats =
        String::from("<table><tr><th>feature</th><th>min</th><th>mean</th><th>max</th></tr>");
    for (name, col) in &g.nodes.features {
        let finite: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
        let n = finite.len().max(1) as f64;
        let _ = write!(
            stats,
            "<tr><td>{}</td><td>{:.6}</td><td>{:.6}</td><td>{:.6}</td></tr>",
            escape(name),
            finite.iter().copied().fold(f64::INFINITY, f64::min),
            finite.iter().sum::<f64>() / n,
            finite.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
    }
    stats.push_str("</table>");
    let body = format!(
        r#"<section><h2>Summary</h2>{summary}</section>
<section id="graph"><h2>Latest {} nodes · {} temporal and {} cross-asset edges</h2>
<p class="legend"><span style="color:#26a69a">● label 1</span><span style="color:#ef5350">● label 0</span><span style="color:#9e9e9e">● unlabelled</span><span style="color:#b0bec5">— temporal</span><span style="color:#ff7043">— cross-asset (width: |ρ|)</span></p>{}</section>
<section><h2>Features</h2>{stats}</section>"#,
        chosen.len(),
        shown.0,
        shown.1,
        plot.finish("graph"),
    );
    page(&title, &subtitle, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candles(n: usize) -> Vec<Candle> {
        (0..n)
            .map(|i| {
                let c = 100.0 + (i as f64 * 0.3).sin() * 5.0;
                Candle {
                    open_time: i as i64 * 60_000,
                    open: c - 0.5,
                    high: c + 1.0,
                    low: c - 1.0,
                    close: c,
                    volume: 1.0 + i as f64,
                }
            })
            .collect()
    }

    #[test]
    fn the_candle_report_draws_every_candle_and_each_indicator() {
        let html = candles_indicators(
            "BTCUSDT",
            "api_candles_1m",
            "2024-06-01/2024-06-02",
            &candles(60),
        );
        assert_eq!(html.matches(r#"class="candle""#).count(), 60);
        assert_eq!(html.matches(r#"class="volume""#).count(), 60);
        for line in ["sma", "ema", "vwap", "rsi"] {
            assert_eq!(
                html.matches(&format!(r#"class="{line}""#)).count(),
                1,
                "{line}"
            );
        }
        assert!(html.contains("<td>60</td>"));
        assert!(!html.contains("<script"), "a report runs no script");
    }

    #[test]
    fn an_empty_range_says_so() {
        let html = candles_indicators("BTCUSDT", "api_candles_1m", "2024-06-01/2024-06-02", &[]);
        assert!(html.contains("No api_candles_1m candles of BTCUSDT"));
    }

    #[test]
    fn the_graph_report_draws_the_latest_nodes_and_their_edges() {
        let g = streamforge_graph::sample::sample_graph("g1", &["AAAUSDT", "BBBUSDT"], 30);
        let html = plot_graph(&g, 20);
        assert_eq!(html.matches(r#"class="node""#).count(), 20);
        assert!(html.contains("Graph g1"));
        assert!(html.contains("<td>return</td>"));
    }
}
