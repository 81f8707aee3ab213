//! Logs of every worker: `tracing` to stderr, JSON lines when `LOG_FORMAT=json` (the operator
//! sets it on the Jobs it creates, so pod logs can be shipped as they are). Every line carries
//! the worker's queue id and run (`QUEUE_ID`, `RUN` from the environment, when set): as the
//! first fields of a JSON line (`"queue_id":"…","run":2`), as `queue_id=… run=2` before a
//! text line, whatever task or thread logs it.

use std::fmt::Write as _;

use streamforge_api::env::{LOG_FORMAT, QUEUE_ID, RUN};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The worker's identity on every log line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    pub queue_id: Option<String>,
    pub run: Option<u32>,
}

impl Identity {
    /// From `QUEUE_ID` and `RUN` (a run that is not a number is left out; the worker refuses it
    /// itself when it reads its environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let value = |k| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            queue_id: value(QUEUE_ID),
            run: value(RUN).and_then(|r| r.parse().ok()),
        }
    }

    fn json_fields(&self) -> String {
        let mut s = String::new();
        if let Some(q) = &self.queue_id {
            s.push_str("\"queue_id\":");
            s.push_str(&serde_json::Value::from(q.as_str()).to_string());
            s.push(',');
        }
        if let Some(r) = self.run {
            let _ = write!(s, "\"run\":{r},");
        }
        s
    }

    fn text_prefix(&self) -> String {
        let mut s = String::new();
        if let Some(q) = &self.queue_id {
            let _ = write!(s, "queue_id={q} ");
        }
        if let Some(r) = self.run {
            let _ = write!(s, "run={r} ");
        }
        s
    }
}

/// A formatter that puts the worker's [`Identity`] on every line `inner` formats.
pub struct WithIdentity<F> {
    inner: F,
    json: bool,
    fields: String,
}

impl<F> WithIdentity<F> {
    pub fn new(inner: F, identity: &Identity, json: bool) -> Self {
        let fields = if json {
            identity.json_fields()
        } else {
            identity.text_prefix()
        };
        Self {
            inner,
            json,
            fields,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithIdentity<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        if self.fields.is_empty() {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) if self.json => write!(writer, "{{{}{rest}", self.fields),
            _ => write!(writer, "{}{line}", self.fields),
        }
    }
}

/// Install the global subscriber; `RUST_LOG` filters, Kafka's chatter is kept to warnings.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn"));
    let identity = Identity::from_lookup(|k| std::env::var(k).ok());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var(LOG_FORMAT).is_ok_and(|f| f == "json") {
        let format = tracing_subscriber::fmt::format().json();
        builder
            .json()
            .event_format(WithIdentity::new(format, &identity, true))
            .init();
    } else {
        let format = tracing_subscriber::fmt::format();
        builder
            .event_format(WithIdentity::new(format, &identity, false))
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn identity() -> Identity {
        Identity::from_lookup(|k| match k {
            "QUEUE_ID" => Some("wf-btcusdt-api_candles_5m-20240801-a1b2c3".into()),
            "RUN" => Some(" 2 ".into()),
            _ => None,
        })
    }

    fn lines(json: bool, id: &Identity) -> Vec<String> {
        let buf = Buffer::default();
        let out = buf.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false);
        let log = || {
            tracing::info!(records = 5, "first");
            let span = tracing::info_span!("batch", n = 1);
            let _in = span.enter();
            tracing::warn!("second \"quoted\"");
        };
        if json {
            let f = WithIdentity::new(tracing_subscriber::fmt::format().json(), id, true);
            tracing::subscriber::with_default(builder.json().event_format(f).finish(), log);
        } else {
            let f = WithIdentity::new(tracing_subscriber::fmt::format(), id, false);
            tracing::subscriber::with_default(builder.event_format(f).finish(), log);
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn every_json_line_carries_the_queue_id_and_run() {
        let lines = lines(true, &identity());
        assert_eq!(lines.len(), 2, "{lines:?}");
        for line in &lines {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["queue_id"], "wf-btcusdt-api_candles_5m-20240801-a1b2c3");
            assert_eq!(v["run"], 2);
            assert!(v["fields"]["message"].is_string(), "{line}");
        }
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(second["fields"]["message"], "second \"quoted\"");
        assert_eq!(second["span"]["n"], 1);
    }

    #[test]
    fn every_text_line_starts_with_the_queue_id_and_run() {
        let lines = lines(false, &identity());
        assert_eq!(lines.len(), 2, "{lines:?}");
        for line in &lines {
            assert!(
                line.starts_with("queue_id=wf-btcusdt-api_candles_5m-20240801-a1b2c3 run=2 "),
                "{line}"
            );
        }
    }

    #[test]
    fn without_an_identity_lines_are_as_before() {
        let none = Identity::from_lookup(|_| None);
        assert_eq!(none, Identity::default());
        for line in lines(true, &none) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert!(
                v.get("queue_id").is_none() && v.get("run").is_none(),
                "{line}"
            );
        }
        // A run that is not a number is left out, the queue id kept.
        let odd = Identity::from_lookup(|k| (k == "RUN").then(|| "x".into()));
        assert_eq!(odd.run, None);
    }
}
