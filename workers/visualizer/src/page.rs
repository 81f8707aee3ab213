//! The page: `index.html` from `FRONTEND_PATH`, a template with two slots: `{{CONFIG_JSON}}`
//! (what the tabs open with, and which topics may be tailed) and `{{VERSION}}`. The scripts
//! and styles beside it are served as they are; lightweight-charts comes from the npm package
//! installed there (`node_modules/`), never from a CDN.

use std::path::PathBuf;

use serde_json::json;

use crate::config::VisualizerConfig;

/// The chart library's file inside `FRONTEND_PATH`.
pub const CHART_LIBRARY: &str =
    "node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js";

pub struct Page {
    template: String,
    config_json: String,
    pub dir: PathBuf,
}

impl Page {
    pub fn load(config: &VisualizerConfig) -> Result<Self, String> {
        let dir = config.frontend.clone();
        let index = dir.join("index.html");
        let template = std::fs::read_to_string(&index).map_err(|e| {
            format!(
                "{} cannot be read ({e}); FRONTEND_PATH must name the frontend directory",
                index.display()
            )
        })?;
        let library = dir.join(CHART_LIBRARY);
        if !library.is_file() {
            return Err(format!(
                "{} is missing; run `npm ci` in {}",
                library.display(),
                dir.display()
            ));
        }
        let mut cfg = serde_json::to_value(&config.defaults).unwrap_or_else(|_| json!({}));
        cfg["version"] = json!(env!("CARGO_PKG_VERSION"));
        cfg["events_topic"] = json!(config.events_topic);
        Ok(Page {
            template,
            config_json: script_safe(&cfg.to_string()),
            dir,
        })
    }

    /// The page with its slots filled.
    pub fn render(&self) -> String {
        self.template
            .replace("{{CONFIG_JSON}}", &self.config_json)
            .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
    }
}

/// JSON that cannot end the `<script>` element it sits in.
pub fn script_safe(json: &str) -> String {
    json.replace("</", "<\\/").replace("<!--", "<\\!--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_element() {
        let s = script_safe(r#"{"topic":"</script><script>alert(1)</script>"}"#);
        assert!(!s.contains("</script>"));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["topic"], "</script><script>alert(1)</script>");
    }
}
