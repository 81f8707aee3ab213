//! Queues that wait for each other (pure): whether a Queue with `spec.after` may start.
//!
//! ```text
//!  every Queue in `after` Succeeded ──────────────► Ready    (create the Jobs, send start)
//!  one is Failed ─────────────────────────────────► Failed   (DependencyFailed, with its message)
//!  `after` leads back to this Queue ──────────────► Failed   (DependencyCycle, with the cycle)
//!  otherwise (missing, Pending, Running, Stopped) ► Waiting  (with whom and why)
//! ```
//!
//! A missing name waits rather than fails: `kubectl apply -f chain.yaml` creates the Queues of
//! one file one by one, so a Queue often sees its dependency before that exists. A cycle can never
//! resolve, so it fails at once, on every Queue of the cycle, each naming the whole loop.
//! Only Queues of the same namespace are looked at; the lookup comes from the Queue cache.

use std::collections::HashSet;

use streamforge_api::{Phase, Queue};

pub const REASON_WAITING: &str = "WaitingForQueues";
pub const REASON_DEPENDENCY_FAILED: &str = "DependencyFailed";
pub const REASON_DEPENDENCY_CYCLE: &str = "DependencyCycle";

/// Longest chain followed when looking for a cycle (the CRD allows 16 names per Queue).
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Waiting {
        message: String,
    },
    Failed {
        reason: &'static str,
        message: String,
    },
}

fn phase_of(q: &Queue) -> Option<Phase> {
    q.status.as_ref().and_then(|s| s.phase)
}

/// Whether `queue` may start, given `lookup` (a Queue of the same namespace by name).
pub fn readiness<'a>(queue: &Queue, lookup: impl Fn(&str) -> Option<&'a Queue>) -> Readiness {
    let me = queue.metadata.name.as_deref().unwrap_or_default();
    if let Some(cycle) = find_cycle(me, &queue.spec.after, &lookup) {
        return Readiness::Failed {
            reason: REASON_DEPENDENCY_CYCLE,
            message: format!("spec.after makes a cycle: {}", cycle.join(" → ")),
        };
    }
    let mut waiting = Vec::new();
    for name in &queue.spec.after {
        match lookup(name) {
            None => waiting.push(format!("{name} (not found)")),
            Some(dep) => match phase_of(dep) {
                Some(Phase::Succeeded) => {}
                Some(Phase::Failed) => {
                    let why = dep
                        .status
                        .as_ref()
                        .and_then(|s| s.message.clone())
                        .unwrap_or_default();
                    return Readiness::Failed {
                        reason: REASON_DEPENDENCY_FAILED,
                        message: format!("{name}, which this Queue waits for, Failed: {why}"),
                    };
                }
                Some(p) => waiting.push(format!("{name} ({})", p.as_str())),
                None => waiting.push(format!("{name} (new)")),
            },
        }
    }
    if waiting.is_empty() {
        Readiness::Ready
    } else {
        Readiness::Waiting {
            message: format!("waiting for {}", waiting.join(", ")),
        }
    }
}

/// A path from `me` back to `me` through `after` lists, if there is one (depth-first, each
/// Queue visited once, bounded).
fn find_cycle<'a>(
    me: &str,
    after: &[String],
    lookup: &impl Fn(&str) -> Option<&'a Queue>,
) -> Option<Vec<String>> {
    let mut seen = HashSet::new();
    let mut path = vec![me.to_owned()];
    fn visit<'a>(
        me: &str,
        after: &[String],
        lookup: &impl Fn(&str) -> Option<&'a Queue>,
        seen: &mut HashSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        if path.len() > MAX_DEPTH {
            return false;
        }
        for name in after {
            if name == me {
                path.push(name.clone());
                return true;
            }
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(dep) = lookup(name) {
                path.push(name.clone());
                if visit(me, &dep.spec.after, lookup, seen, path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    visit(me, after, lookup, &mut seen, &mut path).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::QueueExt;
    use std::collections::HashMap;

    fn queue(name: &str, after: &[&str], phase: Option<Phase>) -> Queue {
        let mut q = Queue::test();
        q.metadata.name = Some(name.into());
        q.spec.after = after.iter().map(|s| s.to_string()).collect();
        if let Some(p) = phase {
            let mut st = q.status.clone().unwrap_or_default();
            st.phase = Some(p);
            st.message = Some(format!("{name} is {}", p.as_str()));
            q.status = Some(st);
        }
        q
    }

    fn check(me: &Queue, others: &[Queue]) -> Readiness {
        let by_name: HashMap<String, &Queue> = others
            .iter()
            .map(|q| (q.metadata.name.clone().unwrap_or_default(), q))
            .collect();
        readiness(me, |n| by_name.get(n).copied())
    }

    #[test]
    fn starts_when_every_queue_it_waits_for_succeeded() {
        let me = queue("train", &["load", "graph"], None);
        let done = [
            queue("load", &[], Some(Phase::Succeeded)),
            queue("graph", &["load"], Some(Phase::Succeeded)),
        ];
        assert_eq!(check(&me, &done), Readiness::Ready);
    }

    #[test]
    fn waits_and_says_for_whom() {
        let me = queue("train", &["load", "graph", "later"], None);
        let others = [
            queue("load", &[], Some(Phase::Succeeded)),
            queue("graph", &["load"], Some(Phase::Running)),
        ];
        assert_eq!(
            check(&me, &others),
            Readiness::Waiting {
                message: "waiting for graph (Running), later (not found)".into()
            }
        );
        let stopped = [queue("graph", &[], Some(Phase::Stopped))];
        let me = queue("train", &["graph"], None);
        assert!(
            matches!(check(&me, &stopped), Readiness::Waiting { message } if message.contains("graph (Stopped)"))
        );
    }

    #[test]
    fn fails_with_the_reason_when_one_fails() {
        let me = queue("train", &["load", "graph"], None);
        let others = [
            queue("load", &[], Some(Phase::Running)),
            queue("graph", &[], Some(Phase::Failed)),
        ];
        assert_eq!(
            check(&me, &others),
            Readiness::Failed {
                reason: REASON_DEPENDENCY_FAILED,
                message: "graph, which this Queue waits for, Failed: graph is Failed".into()
            }
        );
    }

    #[test]
    fn a_cycle_fails_and_names_the_loop() {
        let a = queue("a", &["b"], None);
        let b = queue("b", &["c"], None);
        let c = queue("c", &["a"], None);
        let all = [a.clone(), b.clone(), c.clone()];
        assert_eq!(
            check(&a, &all),
            Readiness::Failed {
                reason: REASON_DEPENDENCY_CYCLE,
                message: "spec.after makes a cycle: a → b → c → a".into()
            }
        );
        assert!(
            matches!(check(&b, &all), Readiness::Failed { reason, .. } if reason == REASON_DEPENDENCY_CYCLE)
        );
        let selfish = queue("me", &["me"], None);
        assert!(
            matches!(check(&selfish, &[]), Readiness::Failed { reason, .. } if reason == REASON_DEPENDENCY_CYCLE)
        );
    }

    #[test]
    fn a_cycle_further_along_is_not_this_queues_cycle() {
        // x waits for a, and a and b wait for each other: x waits (a's own cycle fails a,
        // and then x fails through DependencyFailed).
        let x = queue("x", &["a"], None);
        let all = [queue("a", &["b"], None), queue("b", &["a"], None)];
        assert!(matches!(check(&x, &all), Readiness::Waiting { .. }));
    }

    #[test]
    fn a_diamond_is_no_cycle() {
        let me = queue("train", &["g1", "g2"], None);
        let all = [
            queue("g1", &["load"], Some(Phase::Succeeded)),
            queue("g2", &["load"], Some(Phase::Succeeded)),
            queue("load", &[], Some(Phase::Succeeded)),
        ];
        assert_eq!(check(&me, &all), Readiness::Ready);
    }
}
