//! Leader election on a `coordination.k8s.io` Lease, with `kube-lease-manager`: of the operator's
//! replicas one leads (reconciles, folds telemetry, sends commands) and the others stand by,
//! ready, until the leader's lease lapses. A leader that loses its lease exits, so that two
//! operators never act at once; its pod restarts as a standby.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the replicas share the lead.
#[derive(Clone, Debug, PartialEq)]
pub struct Election {
    /// The Lease's name and namespace.
    pub lease: String,
    pub namespace: String,
    /// This replica's name in the Lease (the pod's name).
    pub identity: String,
    /// How long a lease holds without renewal, and how long before it ends the holder renews.
    pub duration: Duration,
    pub grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error("leader election: {0}")]
    Settings(String),
    #[error("leader election: the Lease {lease} in {namespace}: {source}")]
    Lease {
        lease: String,
        namespace: String,
        #[source]
        source: kube_lease_manager::LeaseManagerError,
    },
}

impl Election {
    /// Checked settings: whole seconds, a grace shorter than the duration, names present.
    pub fn checked(self) -> Result<Self, ElectionError> {
        let (d, g) = (self.duration.as_secs(), self.grace.as_secs());
        if g == 0 || d <= g {
            return Err(ElectionError::Settings(format!(
                "the lease duration ({d}s) must be longer than its renewal grace ({g}s), which must be at least 1s"
            )));
        }
        if self.namespace.is_empty() || self.identity.is_empty() || self.lease.is_empty() {
            return Err(ElectionError::Settings(
                "the lease name, POD_NAMESPACE and POD_NAME must be set".into(),
            ));
        }
        Ok(self)
    }
}

/// Campaign for the lead in the background: the receiver says whether this replica leads now.
pub async fn campaign(
    client: Client,
    election: &Election,
) -> Result<(watch::Receiver<bool>, JoinHandle<()>), ElectionError> {
    let params = LeaseParams::new(
        election.identity.clone(),
        election.duration.as_secs(),
        election.grace.as_secs(),
    );
    let manager = LeaseManagerBuilder::new(client, election.lease.clone())
        .with_namespace(election.namespace.clone())
        .with_create_mode(LeaseCreateMode::AutoCreate)
        .with_parameters(params)
        .build()
        .await
        .map_err(|source| ElectionError::Lease {
            lease: election.lease.clone(),
            namespace: election.namespace.clone(),
            source,
        })?;
    let (rx, task) = manager.watch().await;
    let task = tokio::spawn(async move {
        match task.await {
            Ok(Ok(_)) => tracing::info!("leader election ended"),
            Ok(Err(e)) => tracing::error!(error = %e, "leader election failed"),
            Err(e) => tracing::error!(error = %e, "leader election task failed"),
        }
    });
    Ok((rx, task))
}

/// Resolves once `leading` says this replica no longer leads (or its campaign ended).
pub async fn lost(leading: &mut watch::Receiver<bool>) {
    let _ = leading.wait_for(|l| !*l).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn election(duration: u64, grace: u64) -> Election {
        Election {
            lease: "streamforge-operator".into(),
            namespace: "streamforge".into(),
            identity: "streamforge-operator-abc".into(),
            duration: Duration::from_secs(duration),
            grace: Duration::from_secs(grace),
        }
    }

    #[test]
    fn settings_the_lease_manager_would_panic_on_are_refused() {
        assert!(election(15, 5).checked().is_ok());
        for (d, g) in [(5, 5), (5, 10), (15, 0), (0, 0)] {
            let e = election(d, g).checked().unwrap_err();
            assert!(e.to_string().contains("must be longer"), "{e}");
        }
        let mut e = election(15, 5);
        e.identity = String::new();
        assert!(e.checked().unwrap_err().to_string().contains("POD_NAME"));
    }
}
