//! The filters every tab shares: by queue id, symbol and type. An empty filter field matches
//! everything; a set one must equal the item's value (symbols without regard to case).

use serde::Deserialize;
use serde_json::Value;
use streamforge_api::QueueEvent;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Filter {
    #[serde(default)]
    pub queue_id: Option<String>,
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default, rename = "type")]
    pub data_type: Option<String>,
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Filter {
    pub fn event(&self, e: &QueueEvent) -> bool {
        set(&self.queue_id).is_none_or(|q| e.queue_id == q)
            && set(&self.symbol).is_none_or(|s| {
                e.symbol
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(s))
            })
            && set(&self.data_type).is_none_or(|t| e.data_type.as_deref() == Some(t))
    }

    /// A data record: its key (`SYMBOL|...`) or its `symbol` field names the symbol; its `type`,
    /// `kind` (order book records) or `interval` (candles) field, or the type named in the key,
    /// the type. Records without such fields do not match a filter on them.
    pub fn record(&self, key: Option<&str>, value: &Value) -> bool {
        let symbol_ok = set(&self.symbol).is_none_or(|s| {
            value
                .get("symbol")
                .and_then(Value::as_str)
                .or_else(|| key.and_then(|k| k.split('|').next()))
                .is_some_and(|x| x.eq_ignore_ascii_case(s))
        });
        let type_ok = set(&self.data_type).is_none_or(|t| {
            ["type", "kind", "interval"]
                .iter()
                .filter_map(|f| value.get(f).and_then(Value::as_str))
                .any(|x| x == t || t.ends_with(&format!("_{x}")))
                || key.is_some_and(|k| k.split('|').nth(1) == Some(t))
        });
        symbol_ok && type_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(q: Option<&str>, s: Option<&str>, t: Option<&str>) -> Filter {
        Filter {
            queue_id: q.map(Into::into),
            symbol: s.map(Into::into),
            data_type: t.map(Into::into),
        }
    }

    #[test]
    fn events_match_on_every_set_field() {
        let e: QueueEvent = serde_json::from_value(json!({
            "queue_id": "q1", "symbol": "BTCUSDT", "type": "api_candles_1m", "status": "loading"
        }))
        .unwrap();
        assert!(Filter::default().event(&e));
        assert!(f(Some("q1"), Some("btcusdt"), None).event(&e));
        assert!(!f(Some("q2"), None, None).event(&e));
        assert!(!f(None, Some("ETHUSDT"), None).event(&e));
        assert!(f(None, None, Some("api_candles_1m")).event(&e));
        assert!(!f(None, None, Some("ws_trades")).event(&e));
        assert!(
            f(Some(" "), None, None).event(&e),
            "a blank field is no filter"
        );
    }

    #[test]
    fn records_match_by_field_or_key() {
        let candle = json!({"symbol": "BTCUSDT", "interval": "1m", "open_time": 1});
        assert!(f(None, Some("BTCUSDT"), None).record(None, &candle));
        assert!(f(None, Some("btcusdt"), Some("api_candles_1m")).record(None, &candle));
        assert!(!f(None, None, Some("api_candles_5m")).record(None, &candle));
        let diff = json!({"kind": "diff"});
        assert!(f(None, Some("ETHUSDT"), Some("diff")).record(Some("ETHUSDT|diff|9"), &diff));
        assert!(!f(None, Some("BTCUSDT"), None).record(Some("ETHUSDT|diff|9"), &diff));
        assert!(!f(None, Some("BTCUSDT"), None).record(None, &json!("text")));
    }
}
