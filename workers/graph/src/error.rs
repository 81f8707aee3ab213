//! Errors of reading, writing and checking a graph, each saying what was done to which object.

/// Why a graph could not be written, read or accepted.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("graph name {name:?} is invalid: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("graph is invalid: {0}")]
    Invalid(String),
    #[error("no graph at {path} (its manifest is missing)")]
    NotFound { path: String },
    #[error("object store {op} {path}: {source}")]
    Store {
        op: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("Parquet file {path}: {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("Parquet file {path}: {reason}")]
    Schema { path: String, reason: String },
    #[error("manifest {path}: {source}")]
    Manifest {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl GraphError {
    /// Whether trying again may help: only outages of the store are passing; a missing graph,
    /// an invalid one or a refused request stays so.
    pub fn is_transient(&self) -> bool {
        use object_store::Error as E;
        match self {
            GraphError::Store { source, .. } => !matches!(
                source,
                E::NotFound { .. }
                    | E::PermissionDenied { .. }
                    | E::Unauthenticated { .. }
                    | E::InvalidPath { .. }
                    | E::NotSupported { .. }
                    | E::UnknownConfigurationKey { .. }
            ),
            _ => false,
        }
    }
}
