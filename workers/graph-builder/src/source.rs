//! What reading candles can fail with: an outage (retry) or bad input (stop).

use streamforge_kit::lifecycle::Failure;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The store is away or overloaded: a retry may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// The data or the settings are wrong: retrying gives the same answer.
    #[error("{0}")]
    Bad(String),
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Unavailable(m) => Failure::Transient(m),
            SourceError::Bad(m) => Failure::Permanent(m),
        }
    }
}

impl From<streamforge_sinks::core::StorageError> for SourceError {
    fn from(e: streamforge_sinks::core::StorageError) -> Self {
        use streamforge_sinks::core::StorageError as S;
        match e {
            S::Unavailable(m) => SourceError::Unavailable(m),
            S::Refused(m) => SourceError::Bad(m),
        }
    }
}
