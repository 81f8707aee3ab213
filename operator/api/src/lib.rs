//! The StreamForge wire contract: the `Queue` resource, the `queue-control` commands, the
//! `queue-events` telemetry and the naming rules that tie them together.
//!
//! The operator and every worker depend on this crate so that each field is defined once.
//! Nothing here does I/O.

pub mod command;
pub mod datatype;
pub mod env;
pub mod event;
pub mod exit;
pub mod naming;
pub mod optional;
pub mod queue;
pub mod served;
pub mod source;
pub mod status;
pub mod time_range;
pub mod topics;

pub use command::{Command, ControlCommand};
pub use datatype::{DataKind, Family, Interval};
pub use event::{EventStatus, QueueEvent};
pub use queue::{GraphSource, ModelType, PodOverrides, Queue, QueueSpec, SinkKind, Target};
pub use source::{GenericSource, SourceFormat, SourceRecords};
pub use status::{GraphStatus, Phase, ProducerSummary, QueueStatus, TrainingStatus};
pub use time_range::{TimeRange, TimeRangeError};
