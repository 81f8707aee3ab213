//! What the operator's integration tests share.

use std::collections::BTreeSet;

use serde_yaml::Value;

/// (apiGroup, resource, verb) triples of a Role or ClusterRole.
pub fn grants(role: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_sequence().unwrap() {
        for g in rule["apiGroups"].as_sequence().unwrap() {
            for r in rule["resources"].as_sequence().unwrap() {
                for v in rule["verbs"].as_sequence().unwrap() {
                    out.insert((
                        g.as_str().unwrap().to_owned(),
                        r.as_str().unwrap().to_owned(),
                        v.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}
