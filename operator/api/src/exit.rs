//! Exit codes a worker ends with, and what the operator and the Job make of them.
//!
//! | code | meaning | the Job | the Queue |
//! |---|---|---|---|
//! | 0 | finished or stopped | succeeds | follows the run |
//! | 1 | a passing failure (`retrying` reported) | retries under `backoffLimit` | fails only when the Job does |
//! | 2 | retrying cannot help (`error` reported) | fails at once (pod failure policy) | fails |

/// Finished or stopped.
pub const EXIT_OK: u8 = 0;
/// A passing failure: the Job's retries may get past it.
pub const EXIT_TRANSIENT: u8 = 1;
/// Retrying cannot help: bad configuration or input, refused by the venue or the store.
pub const EXIT_PERMANENT: u8 = 2;
