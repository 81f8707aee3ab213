//! The REST facade against the platform's API server: callers are service accounts of the
//! suite's namespace with their own tokens (`kubectl create token`), one that may write Queues
//! and one that may only read them. The facade runs in this process with the suite's client as
//! its identity; every answer below comes from the real TokenReview, SubjectAccessReview, CRD
//! rules and operator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use serde_json::{Value, json};
use streamforge_api::{Phase, Queue};
use streamforge_e2e::{Env, wait_phase};
use streamforge_facade::routes::{Facade, routes};

struct Call {
    facade: Arc<Facade>,
}

impl Call {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = warp::test::request().method(method).path(path);
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = r.reply(&routes(self.facade.clone())).await;
        let v = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
        (res.status().as_u16(), v)
    }
}

fn account(ns: &str, name: &str, verbs: &[&str]) -> String {
    let verbs = verbs.join(", ");
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
  namespace: {ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {name}
  namespace: {ns}
rules:
  - apiGroups: [streamforge.io]
    resources: [queues]
    verbs: [{verbs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {name}
  namespace: {ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {name}
subjects:
  - kind: ServiceAccount
    name: {name}
    namespace: {ns}
"#
    )
}

#[tokio::test]
async fn f1_the_rest_facade_acts_with_the_callers_own_rights() {
    let Some((env, client)) = Env::setup("f1_the_rest_facade").await else {
        return;
    };
    let ns = env.namespace.clone();
    env.apply(&account(
        &ns,
        "f1-writer",
        &["create", "get", "list", "patch", "delete"],
    ))
    .unwrap();
    env.apply(&account(&ns, "f1-reader", &["get", "list"]))
        .unwrap();
    let token = |sa: &str| {
        env.kubectl_ok(&["create", "token", sa, "-n", &ns, "--duration=10m"])
            .unwrap()
            .trim()
            .to_owned()
    };
    let (writer, reader) = (token("f1-writer"), token("f1-reader"));
    env.delete_queue("f1-dummy-load");
    let call = Call {
        facade: Arc::new(Facade {
            client: client.clone(),
            namespace: ns.clone(),
            image_registry: "streamforge".into(),
            image_tag: "e2e".into(),
            swagger_ui: env
                .repo
                .join("operator/facade/ui/node_modules/swagger-ui-dist"),
        }),
    };
    let seed = json!({
        "command": "start",
        "queue_id": "f1_dummy_load",
        "target": "dummy-service",
        "symbol": "BTCUSDT",
        "type": "dummy_load",
        "time_range": "2024-08-01:2024-08-02",
        "telemetry_id": "dummy-service__f1",
        "timestamp": 1722346211.177
    });

    // Who calls: no token, a token the API server does not accept.
    let (s, v) = call
        .send("POST", "/queues/start", None, Some(seed.clone()))
        .await;
    assert_eq!(s, 401, "{v}");
    let (s, v) = call
        .send(
            "POST",
            "/queues/start",
            Some("not-a-token"),
            Some(seed.clone()),
        )
        .await;
    assert_eq!(s, 401, "{v}");

    // A caller who may not create Queues is refused, and nothing is created.
    let (s, v) = call
        .send("POST", "/queues/start", Some(&reader), Some(seed.clone()))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("f1-reader may not create queues"),
        "{v}"
    );
    let api: Api<Queue> = Api::namespaced(client.clone(), &ns);
    assert!(api.get_opt("f1-dummy-load").await.unwrap().is_none());

    // The writer starts the seed's command; the operator runs the Queue.
    let (s, v) = call
        .send("POST", "/queues/start", Some(&writer), Some(seed.clone()))
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["name"], "f1-dummy-load");
    assert_eq!(v["ignored"].as_array().unwrap().len(), 3, "{v}");
    wait_phase(
        &api,
        "f1-dummy-load",
        Phase::Succeeded,
        Duration::from_secs(180),
    )
    .await;

    // Twice is a conflict; the CRD's rules come back with their field and message.
    let (s, v) = call
        .send("POST", "/queues/start", Some(&writer), Some(seed.clone()))
        .await;
    assert_eq!(s, 409, "{v}");
    let mut bad = seed.clone();
    bad["queue_id"] = json!("f1-bad");
    bad["target"] = json!("loader-api-candles");
    bad["type"] = json!("graph_build");
    let (s, v) = call
        .send("POST", "/queues/start", Some(&writer), Some(bad))
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("type graph_build is not served by target loader-api-candles; it serves api_candles_<interval>"),
        "{v}"
    );
    assert_eq!(v["field"], "spec.type", "{v}");
    let (s, v) = call
        .send(
            "POST",
            "/queues/start",
            Some(&writer),
            Some(json!({"target": "dummy-service"})),
        )
        .await;
    assert_eq!(s, 400, "{v}");

    // Reading: the reader may; status as the resource has it.
    let (s, v) = call.send("GET", "/queues", Some(&reader), None).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["queues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["name"] == "f1-dummy-load")
    );
    let (s, v) = call
        .send("GET", "/queues/f1-dummy-load", Some(&reader), None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"]["phase"], "Succeeded", "{v}");
    let (s, _) = call
        .send("GET", "/queues/f1-nothing", Some(&reader), None)
        .await;
    assert_eq!(s, 404);

    // Changing: the reader may not; the writer stops (spec.suspend) and deletes.
    let (s, v) = call
        .send("POST", "/queues/f1-dummy-load/stop", Some(&reader), None)
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = call
        .send("DELETE", "/queues/f1-dummy-load", Some(&reader), None)
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = call
        .send("POST", "/queues/f1-dummy-load/stop", Some(&writer), None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["spec"]["suspend"], true);
    let (s, v) = call
        .send("DELETE", "/queues/f1-dummy-load", Some(&writer), None)
        .await;
    assert_eq!(s, 204, "{v}");
    env.delete_queue("f1-dummy-load");
    assert!(api.get_opt("f1-dummy-load").await.unwrap().is_none());

    // The catalogue and the document need no token.
    let (s, v) = call.send("GET", "/targets", None, None).await;
    assert_eq!(s, 200);
    assert!(v["targets"].as_array().unwrap().len() >= 10);
    let (s, v) = call.send("GET", "/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(v["paths"]["/queues/start"]["post"].is_object());
}
