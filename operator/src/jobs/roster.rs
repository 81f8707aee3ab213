//! The roster of a run (pure): its main worker and one companion per sink, each with its
//! telemetry id, Job name and image.

use streamforge_api::{Queue, SinkKind, Target, naming};

use crate::config::WorkerDefaults;
use crate::images;
use crate::reconcile::validate::Identity;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Main,
    Sink(SinkKind),
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Sink(kind) => kind.as_str(),
        }
    }
}

/// One worker of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Worker {
    pub role: Role,
    pub target: Target,
    pub telemetry_id: String,
    pub job_name: String,
    pub image: String,
}

/// The workers of `run`: the main one first, then one per sink in spec order.
pub fn workers(queue: &Queue, id: &Identity, run: u32, cfg: &WorkerDefaults) -> Vec<Worker> {
    let spec = &queue.spec;
    let main_image = spec.image.clone().unwrap_or_else(|| {
        images::image(
            &cfg.image_registry,
            images::family(spec.target, &spec.data_type),
            &cfg.image_tag,
        )
    });
    let mut out = vec![Worker {
        role: Role::Main,
        target: spec.target,
        telemetry_id: id.telemetry_id.clone(),
        job_name: naming::job_name(&id.name, &id.uid, None, run),
        image: main_image,
    }];
    for &kind in &spec.sinks {
        let target = kind.target();
        out.push(Worker {
            role: Role::Sink(kind),
            target,
            telemetry_id: naming::telemetry_id(target, &id.uid),
            job_name: naming::job_name(&id.name, &id.uid, Some(kind.as_str()), run),
            image: images::image(
                &cfg.image_registry,
                images::family(target, &spec.data_type),
                &cfg.image_tag,
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;
    use crate::reconcile::validate::validate;

    #[test]
    fn a_loader_with_sinks_gets_one_job_each() {
        let q = Queue::test().with_sinks(&[SinkKind::Arango, SinkKind::Lake]);
        let id = validate(&q).unwrap();
        let cfg = WorkerDefaults::for_tests();
        let ws = workers(&q, &id, 1, &cfg);
        let names: Vec<_> = ws
            .iter()
            .map(|w| {
                (
                    w.job_name.as_str(),
                    w.telemetry_id.as_str(),
                    w.image.as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "btc-candles-a1b2c3-r1",
                    "loader-producer__a1b2c3",
                    "streamforge/loader-api-candles:0.1.0"
                ),
                (
                    "btc-candles-a1b2c3-arango-r1",
                    "arango-connector__a1b2c3",
                    "streamforge/arango-candles:0.1.0"
                ),
                (
                    "btc-candles-a1b2c3-lake-r1",
                    "lake-connector__a1b2c3",
                    "streamforge/lake-connector:0.1.0"
                ),
            ]
        );
    }
}
