//! `dummy-service`: the test worker. It waits for `start` on queue-control, reports `started`,
//! progress with record counts and `finished` on queue-events, and honours `stop`, like every
//! worker. Its Queue's `type` picks what it does (`dummy_<word>_<word>...`):
//!
//! | word | effect |
//! |---|---|
//! | `load` | the default: 1,000 records per second |
//! | `slow` | 20 records per second |
//! | `crash` | exit with code 1 half way, without a final event (the Job retries, then fails) |
//! | `fatal` | report an error and exit with code 2 half way (the Job fails at once) |
//! | `malformed` | send malformed telemetry (not JSON, wrong types) between its real events |
//! | `ignorestop` | ignore `stop` (the operator must still clean up) |
//!
//! The number of records is one per minute of the Queue's timeRange (1,440 for a day), or
//! `DUMMY_RECORDS` when set.

pub mod behaviour;
pub mod run;
