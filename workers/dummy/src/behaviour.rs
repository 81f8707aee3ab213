//! What a dummy Queue's `type` asks for (pure).

use std::time::Duration;

use streamforge_api::datatype;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    pub rate_per_sec: u32,
    pub crash: bool,
    pub fatal: bool,
    /// Fail half way with a passing failure (`retrying`, exit 1) in every pod.
    pub transient: bool,
    pub malformed: bool,
    pub ignore_stop: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            rate_per_sec: 1_000,
            crash: false,
            fatal: false,
            transient: false,
            malformed: false,
            ignore_stop: false,
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BehaviourError {
    #[error("type {0:?} is not a dummy type: it must start with dummy_")]
    NotDummy(String),
    #[error(
        "type {ty:?}: unknown word {word:?} (known: load, slow, crash, fatal, transient, malformed, ignorestop)"
    )]
    UnknownWord { ty: String, word: String },
}

impl Behaviour {
    pub fn parse(ty: &str) -> Result<Self, BehaviourError> {
        let rest = ty
            .strip_prefix(datatype::DUMMY)
            .filter(|r| r.is_empty() || r.starts_with('_'))
            .ok_or_else(|| BehaviourError::NotDummy(ty.to_owned()))?;
        let mut b = Behaviour::default();
        for word in rest.split('_').filter(|w| !w.is_empty()) {
            match word {
                "load" => {}
                "slow" => b.rate_per_sec = 20,
                "crash" => b.crash = true,
                "fatal" => b.fatal = true,
                "transient" => b.transient = true,
                "malformed" => b.malformed = true,
                "ignorestop" => b.ignore_stop = true,
                other => {
                    return Err(BehaviourError::UnknownWord {
                        ty: ty.to_owned(),
                        word: other.to_owned(),
                    });
                }
            }
        }
        Ok(b)
    }

    /// Time to produce one step of `step` records.
    pub fn step_time(&self, step: u64) -> Duration {
        Duration::from_secs_f64(step as f64 / f64::from(self.rate_per_sec.max(1)))
    }
}

/// One record per minute of the range, at least one.
pub fn records_for(range: Option<&streamforge_api::TimeRange>) -> u64 {
    range
        .map(|r| ((r.duration_ms()) / 60_000).max(1) as u64)
        .unwrap_or(1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_combine_and_unknown_words_are_refused() {
        assert_eq!(
            Behaviour::parse("dummy_load").unwrap(),
            Behaviour::default()
        );
        assert_eq!(Behaviour::parse("dummy").unwrap(), Behaviour::default());
        let b = Behaviour::parse("dummy_slow_ignorestop_malformed").unwrap();
        assert_eq!(b.rate_per_sec, 20);
        assert!(b.ignore_stop && b.malformed && !b.crash);
        assert!(Behaviour::parse("dummy_crash").unwrap().crash);
        assert!(Behaviour::parse("dummy_slow_transient").unwrap().transient);
        assert_eq!(
            Behaviour::parse("dummy_explode"),
            Err(BehaviourError::UnknownWord {
                ty: "dummy_explode".into(),
                word: "explode".into()
            })
        );
        assert!(matches!(
            Behaviour::parse("dummyx"),
            Err(BehaviourError::NotDummy(_))
        ));
        assert!(matches!(
            Behaviour::parse("api_trades"),
            Err(BehaviourError::NotDummy(_))
        ));
        assert_eq!(
            Behaviour::default().step_time(100),
            Duration::from_millis(100)
        );
    }
}
