//! The Argo CD health check and resource actions (`deploy/argocd/`) in a Lua 5.1 interpreter,
//! against the Queue objects in `deploy/argocd/fixtures/` (refreshed from a real cluster by the
//! end-to-end scenario `e2e/suite/tests/argocd.rs`), and the `argocd-cm` snippet holding the
//! same Lua text as the files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../e2e/suite/src/argocd.rs"]
mod argocd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn fixture(name: &str) -> Value {
    let path = argocd::dir(&repo()).join("fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(rel: &str) -> String {
    let path = argocd::dir(&repo()).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_gets_its_expected_verdict() {
    let Some(lua) = argocd::interpreter("argocd_health") else {
        return;
    };
    let expected: BTreeMap<String, Value> =
        serde_json::from_str(&read("fixtures/expected.json")).unwrap();
    let dir = argocd::dir(&repo()).join("fixtures");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "expected.json")
        .collect();
    files.sort();
    let listed: Vec<&String> = expected.keys().collect();
    assert_eq!(
        files.iter().collect::<Vec<_>>(),
        listed,
        "every fixture has an entry in expected.json and every entry a fixture"
    );
    let mut seen = BTreeMap::new();
    for file in &files {
        let want = &expected[file];
        let got =
            argocd::health(&lua, &repo(), &fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        println!("{file}: {}: {}", got.status, got.message);
        assert_eq!(
            Some(got.status.as_str()),
            want["status"].as_str(),
            "{file}: {got:?}"
        );
        let part = want["message_contains"].as_str().unwrap();
        assert!(
            got.message.contains(part),
            "{file}: {got:?} does not say {part:?}"
        );
        *seen.entry(got.status).or_insert(0) += 1;
    }
    for status in ["Healthy", "Progressing", "Degraded", "Suspended", "Unknown"] {
        assert!(
            seen.contains_key(status),
            "no fixture is {status}: {seen:?}"
        );
    }
}

#[test]
fn the_verdict_follows_the_rules_on_edge_cases() {
    let Some(lua) = argocd::interpreter("argocd_health") else {
        return;
    };
    let health = |obj: &Value| argocd::health(&lua, &repo(), obj).unwrap();

    // A Queue as applied, before any status; an empty status alike.
    let mut q = fixture("no-status.json");
    assert_eq!(health(&q).status, "Progressing");
    q["status"] = json!({});
    assert_eq!(health(&q).status, "Progressing");

    // A status without observedGeneration is not taken as current.
    let mut q = fixture("succeeded.json");
    q["status"]
        .as_object_mut()
        .unwrap()
        .remove("observedGeneration");
    assert_eq!(health(&q).status, "Progressing");

    // A failed Queue stays Degraded whatever else a condition says.
    let mut q = fixture("failed-job.json");
    q["spec"]["suspend"] = json!(true);
    let h = health(&q);
    assert_eq!(h.status, "Degraded", "{h:?}");

    // A Queue with an end is never Healthy while it runs, even with the Ready condition.
    let mut q = fixture("running.json");
    for c in q["status"]["conditions"].as_array_mut().unwrap() {
        if c["type"] == "Ready" {
            c["status"] = json!("True");
        }
    }
    assert_eq!(health(&q).status, "Progressing");

    // A live stream with records but without the Ready condition is not yet Healthy.
    let mut q = fixture("stream-running.json");
    for c in q["status"]["conditions"].as_array_mut().unwrap() {
        if c["type"] == "Ready" {
            c["status"] = json!("False");
        }
    }
    assert_eq!(health(&q).status, "Progressing");

    // Messages with quotes, backslashes, newlines and non-ASCII text reach Lua unchanged.
    let mut q = fixture("failed-worker-error.json");
    let odd = "it said \"no\" \\ then\nstopped\t: ]] ]=] \u{e9}t\u{e9} \u{1f4c8} \u{7}";
    q["status"]["message"] = json!(odd);
    let h = health(&q);
    assert_eq!(h.status, "Degraded");
    assert!(h.message.contains(odd.split('\n').next().unwrap()), "{h:?}");
}

#[test]
fn lua_literals_keep_every_value() {
    let v = json!({
        "s": "a\"b\\c\n\r\u{0}9\u{1f}z ]] \u{e9}",
        "n": [1, -2, 2.5, 1e300, 9007199254740993u64],
        "b": [true, false],
        "skip": null,
        "list": [null, {"k": null, "x": 1}],
        "empty": {},
        "none": []
    });
    let lit = argocd::lua_literal(&v);
    assert!(!lit.contains("nil"), "{lit}");
    assert!(lit.contains(r#""a\"b\\c\010\013\0009\031z ]] é""#), "{lit}");
}

#[test]
fn actions_set_spec_suspend_and_change_nothing_else() {
    let Some(lua) = argocd::interpreter("argocd_actions") else {
        return;
    };
    let repo = repo();
    let disc = |obj: &Value| argocd::discovery(&lua, &repo, obj).unwrap();
    let on = |suspend: bool, resume: bool| {
        BTreeMap::from([
            ("resume".to_owned(), !resume),
            ("suspend".to_owned(), !suspend),
        ])
    };
    for (file, suspend, resume) in [
        ("no-status.json", true, false),
        ("pending.json", true, false),
        ("waiting.json", true, false),
        ("running.json", true, false),
        ("stream-running.json", true, false),
        ("suspended.json", false, true),
        ("stream-suspended.json", false, true),
        // The spec already says suspend; the operator has not caught up yet.
        ("generation-behind.json", false, true),
        ("succeeded.json", false, false),
        ("failed-job.json", false, false),
        ("failed-worker-error.json", false, false),
    ] {
        assert_eq!(
            disc(&fixture(file)),
            on(suspend, resume),
            "{file}: suspend enabled {suspend}, resume enabled {resume}"
        );
    }

    for (file, action, to) in [
        ("running.json", "suspend", true),
        ("stream-running.json", "suspend", true),
        ("no-status.json", "suspend", true),
        ("suspended.json", "resume", false),
        ("stream-suspended.json", "resume", false),
    ] {
        let before = fixture(file);
        let after = argocd::action(&lua, &repo, action, &before).unwrap();
        assert_eq!(after["spec"]["suspend"], json!(to), "{action} on {file}");
        let mut want = argocd::through_lua(&before);
        want["spec"]["suspend"] = json!(to);
        assert_eq!(
            argocd::through_lua(&after),
            want,
            "{action} on {file} changes spec.suspend only"
        );
    }
}

#[test]
fn argocd_cm_holds_the_lua_files_byte_for_byte() {
    let data = argocd::argocd_cm_data(&repo()).unwrap();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        [
            "resource.customizations.actions.streamforge.io_Queue",
            "resource.customizations.health.streamforge.io_Queue"
        ],
    );
    let same = |embedded: &str, file: &str| {
        assert!(
            embedded == read(file),
            "deploy/argocd/argocd-cm.yaml holds another text than deploy/argocd/{file}: copy the file into it (indented under its key)"
        );
    };
    same(
        &data["resource.customizations.health.streamforge.io_Queue"],
        "health.lua",
    );
    let actions: Value =
        serde_yaml::from_str(&data["resource.customizations.actions.streamforge.io_Queue"])
            .unwrap();
    same(
        actions["discovery.lua"].as_str().unwrap(),
        "actions/discovery.lua",
    );
    let defs = actions["definitions"].as_array().unwrap();
    let names: Vec<&str> = defs.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["suspend", "resume"]);
    for d in defs {
        let name = d["name"].as_str().unwrap();
        same(
            d["action.lua"].as_str().unwrap(),
            &format!("actions/{name}/action.lua"),
        );
    }
}
