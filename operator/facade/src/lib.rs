//! The optional REST facade: the seeds' `POST /queues/start` and reads and changes of Queues
//! over HTTP. It authenticates callers with their Kubernetes bearer token (TokenReview), checks
//! each action against their own rights on Queues (SubjectAccessReview), and then creates or
//! changes the Queue resource through the API server. It never talks to Kafka or a worker: the
//! operator runs what the Queue says, exactly as for one applied with `kubectl`.
//!
//! ```text
//!  client ─Bearer─► routes ─► auth (TokenReview, SubjectAccessReview) ─► payload (seed JSON → spec)
//!                                                                      ─► queues (API server) ─► operator
//! ```

pub mod auth;
pub mod catalog;
pub mod error;
pub mod openapi;
pub mod payload;
pub mod queues;
pub mod routes;
