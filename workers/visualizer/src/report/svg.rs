//! Charts as inline SVG for the reports: self-contained, no script, readable in any browser
//! and in an e-mail. One plot area with linear scales; the caller draws into it.

use std::fmt::Write;

/// Text safe inside SVG/HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub struct Plot {
    pub width: f64,
    pub height: f64,
    pub margin: f64,
    x: (f64, f64),
    y: (f64, f64),
    body: String,
}

impl Plot {
    /// A plot of `x` over `[x0, x1]` and `y` over `[y0, y1]` (widened when empty).
    pub fn new(width: f64, height: f64, x: (f64, f64), y: (f64, f64)) -> Self {
        let widen = |(a, b): (f64, f64)| {
            if b > a { (a, b) } else { (a - 0.5, a + 0.5) }
        };
        Plot {
            width,
            height,
            margin: 48.0,
            x: widen(x),
            y: widen(y),
            body: String::new(),
        }
    }

    pub fn sx(&self, x: f64) -> f64 {
        self.margin + (x - self.x.0) / (self.x.1 - self.x.0) * (self.width - 2.0 * self.margin)
    }

    pub fn sy(&self, y: f64) -> f64 {
        self.height
            - self.margin
            - (y - self.y.0) / (self.y.1 - self.y.0) * (self.height - 2.0 * self.margin)
    }

    pub fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }

    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), stroke: &str, width: f64) {
        let _ = write!(
            self.body,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="{width}"/>"#,
            self.sx(a.0),
            self.sy(a.1),
            self.sx(b.0),
            self.sy(b.1)
        );
    }

    pub fn rect(&mut self, x: f64, y_top: f64, w: f64, y_bottom: f64, fill: &str, class: &str) {
        let (top, bottom) = (self.sy(y_top), self.sy(y_bottom));
        let _ = write!(
            self.body,
            r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{:.2}" height="{:.2}" fill="{fill}"/>"#,
            self.sx(x) - w / 2.0,
            top.min(bottom),
            w.max(0.5),
            (bottom - top).abs().max(0.5)
        );
    }

    pub fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str, title: &str) {
        let _ = write!(
            self.body,
            r#"<circle class="node" cx="{:.1}" cy="{:.1}" r="{r}" fill="{fill}"><title>{}</title></circle>"#,
            self.sx(x),
            self.sy(y),
            escape(title)
        );
    }

    /// A polyline through the finite points.
    pub fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, class: &str) {
        let mut d = String::new();
        for (x, y) in points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
        {
            let _ = write!(d, "{:.1},{:.1} ", self.sx(*x), self.sy(*y));
        }
        if !d.is_empty() {
            let _ = write!(
                self.body,
                r#"<polyline class="{class}" fill="none" stroke="{stroke}" stroke-width="1.5" points="{}"/>"#,
                d.trim_end()
            );
        }
    }

    pub fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str) {
        let _ = write!(
            self.body,
            r##"<text x="{x:.1}" y="{y:.1}" font-size="11" fill="#555" text-anchor="{anchor}">{}</text>"##,
            escape(s)
        );
    }

    /// A frame, `ticks` labels on the y axis, and the given x labels at their positions.
    pub fn axes(
        &mut self,
        ticks: usize,
        y_fmt: impl Fn(f64) -> String,
        x_labels: &[(f64, String)],
    ) {
        let (l, r) = (self.margin, self.width - self.margin);
        let (t, b) = (self.margin, self.height - self.margin);
        let _ = write!(
            self.body,
            r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#ccc"/>"##,
            r - l,
            b - t
        );
        for i in 0..=ticks {
            let v = self.y.0 + (self.y.1 - self.y.0) * i as f64 / ticks.max(1) as f64;
            let y = self.sy(v);
            let _ = write!(
                self.body,
                r##"<line x1="{l}" y1="{y:.1}" x2="{r}" y2="{y:.1}" stroke="#eee"/>"##
            );
            self.text(l - 4.0, y + 4.0, &y_fmt(v), "end");
        }
        for (x, label) in x_labels {
            let sx = self.sx(*x);
            self.text(sx, b + 16.0, label, "middle");
        }
    }

    pub fn finish(self, title: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px">{}</svg>"#,
            escape(title),
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

/// Up to `n` evenly spaced labels over `[x0, x1]`.
pub fn time_labels(x0: f64, x1: f64, n: usize, fmt: impl Fn(f64) -> String) -> Vec<(f64, String)> {
    if n == 0 || x1.partial_cmp(&x0).is_none_or(|o| o.is_lt()) {
        return vec![];
    }
    (0..n)
        .map(|i| {
            let x = if n == 1 {
                x0
            } else {
                x0 + (x1 - x0) * i as f64 / (n - 1) as f64
            };
            (x, fmt(x))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_map_the_range_onto_the_plot_area() {
        let p = Plot::new(200.0, 100.0, (0.0, 10.0), (0.0, 1.0));
        assert_eq!(p.sx(0.0), p.margin);
        assert_eq!(p.sx(10.0), 200.0 - p.margin);
        assert_eq!(p.sy(0.0), 100.0 - p.margin);
        assert_eq!(p.sy(1.0), p.margin);
        // An empty range is widened, never divided by zero.
        let p = Plot::new(200.0, 100.0, (5.0, 5.0), (1.0, 1.0));
        assert!(p.sx(5.0).is_finite() && p.sy(1.0).is_finite());
    }

    #[test]
    fn titles_and_text_are_escaped() {
        let mut p = Plot::new(10.0, 10.0, (0.0, 1.0), (0.0, 1.0));
        p.text(0.0, 0.0, "<script>", "start");
        let s = p.finish("a \"b\"");
        assert!(s.contains("&lt;script&gt;") && !s.contains("<script>"));
        assert!(s.contains("a &quot;b&quot;"));
    }
}
