//! How a worker's job is asked to end before its natural end: a `stop` on queue-control (the
//! Queue is stopped or suspended) or SIGTERM (the pod is going: deleted, evicted, a drained node).
//! The two mean different things for the run: a stop ends it, a SIGTERM leaves it to the Job's
//! next pod.

use std::future::Future;

use tokio::sync::watch;

/// Resolves when the process is asked to terminate (SIGTERM); never where there is no such
/// signal.
pub async fn terminated() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        term.recv().await;
        return;
    }
    std::future::pending::<()>().await
}

/// What made a job that watches a stop flag end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedBy {
    /// Its own end (a range done, an error).
    Itself,
    /// A `stop` command.
    Stop,
    /// A `stop` was awaited, but the queue-control consumer ended: treated as a stop.
    ControlLost,
    /// SIGTERM.
    Signal,
}

/// Drive `job`, which ends early and flushes once `stop_tx` says true, to its end. The first of
/// `stop` (a stop command: true; the control consumer ended: false) and SIGTERM sets the flag;
/// the job is always awaited, so what it wrote is flushed whatever ended it.
pub async fn until_stopped<T>(
    job: impl Future<Output = T>,
    stop: impl Future<Output = bool>,
    stop_tx: &watch::Sender<bool>,
) -> (T, EndedBy) {
    tokio::pin!(job);
    tokio::pin!(stop);
    let term = terminated();
    tokio::pin!(term);
    let mut ended_by = EndedBy::Itself;
    loop {
        tokio::select! {
            r = &mut job => return (r, ended_by),
            cmd = &mut stop, if ended_by == EndedBy::Itself => {
                ended_by = if cmd { EndedBy::Stop } else { EndedBy::ControlLost };
                let _ = stop_tx.send(true);
            }
            () = &mut term, if ended_by == EndedBy::Itself => {
                ended_by = EndedBy::Signal;
                let _ = stop_tx.send(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A job that runs until its flag is set, then reports how many ticks it did.
    async fn flagged_job(mut stop: watch::Receiver<bool>) -> u32 {
        let mut ticks = 0;
        while !*stop.borrow() {
            tokio::select! {
                _ = stop.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(5)) => ticks += 1,
            }
        }
        ticks
    }

    #[tokio::test]
    async fn a_stop_sets_the_flag_and_the_job_still_ends_itself() {
        let (tx, rx) = watch::channel(false);
        let stop = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            true
        };
        let (ticks, by) = until_stopped(flagged_job(rx), stop, &tx).await;
        assert_eq!(by, EndedBy::Stop);
        assert!(ticks > 0);
        assert!(*tx.borrow());
    }

    #[tokio::test]
    async fn a_lost_control_consumer_stops_too_and_says_so() {
        let (tx, rx) = watch::channel(false);
        let (_, by) = until_stopped(flagged_job(rx), async { false }, &tx).await;
        assert_eq!(by, EndedBy::ControlLost);
    }

    #[tokio::test]
    async fn a_job_that_ends_first_ended_itself() {
        let (tx, _rx) = watch::channel(false);
        let (v, by) = until_stopped(async { 7 }, std::future::pending::<bool>(), &tx).await;
        assert_eq!((v, by), (7, EndedBy::Itself));
        assert!(!*tx.borrow());
    }
}
