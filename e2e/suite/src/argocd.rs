//! The Argo CD health check and resource actions of `deploy/argocd/` run in a Lua 5.1
//! interpreter (Argo CD runs gopher-lua, Lua 5.1) against Queue objects as `kubectl get queue -o
//! json` gives them.
//!
//! An object goes to the interpreter as a Lua table constructor (see [`lua_literal`]) on stdin;
//! `deploy/argocd/tests/run_health.lua` and `run_actions.lua` run the script with `obj` set, in an
//! environment without io, os or dofile, as Argo CD does.
//!
//! Shared by the operator's fixture test (`operator/tests/argocd_health.rs`, through `#[path]`)
//! and the end-to-end scenario (`e2e/suite/tests/argocd.rs`), so it needs only std and serde_json.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Environment variable naming the Lua 5.1 interpreter; without it `lua5.1` on PATH is used.
pub const LUA_VAR: &str = "LUA";

/// Where `deploy/argocd/` is, from the repository root.
pub fn dir(repo: &Path) -> PathBuf {
    repo.join("deploy/argocd")
}

/// A Lua string literal holding exactly the bytes of `s`: quotes, backslashes and control
/// characters escaped (`\ddd`, three decimal digits, so that a digit after it cannot join it);
/// everything else copied as it is (UTF-8 is bytes to Lua).
pub fn lua_string(s: &str) -> String {
    let mut escaped = String::with_capacity(s.len() + 2);
    escaped.push('"');
    for c in s.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(escaped, "\\{:03}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    escaped.push('"');
    escaped
}

/// `v` as a Lua expression, the way Argo CD hands an object to its scripts: objects become
/// tables with string keys, arrays tables indexed from 1, numbers numbers. JSON null has no Lua
/// table value: a null member or element is left out (a null at the top is `nil`).
pub fn lua_literal(v: &Value) -> String {
    let mut out = String::new();
    write_lua(&mut out, v);
    out
}

fn write_lua(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                // Finite (JSON has no NaN or infinity); Display writes plain digits.
                let _ = write!(out, "{}", n.as_f64().unwrap_or(0.0));
            }
        }
        Value::String(s) => out.push_str(&lua_string(s)),
        Value::Array(items) => {
            out.push('{');
            for item in items.iter().filter(|i| !i.is_null()) {
                write_lua(out, item);
                out.push(',');
            }
            out.push('}');
        }
        Value::Object(members) => {
            out.push('{');
            for (k, item) in members.iter().filter(|(_, i)| !i.is_null()) {
                out.push('[');
                out.push_str(&lua_string(k));
                out.push_str("]=");
                write_lua(out, item);
                out.push(',');
            }
            out.push('}');
        }
    }
}

/// The interpreter: `$LUA`, else `lua5.1` on PATH. Without one the calling test is skipped
/// (`None`, with a note) outside CI and fails under CI (`CI=true`).
pub fn interpreter(test: &str) -> Option<PathBuf> {
    if let Ok(v) = std::env::var(LUA_VAR)
        && !v.trim().is_empty()
    {
        return Some(PathBuf::from(v.trim()));
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("lua5.1"))
            .find(|p| p.is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{test}: {LUA_VAR} is not set and lua5.1 is not on PATH under CI; scripts/setup.sh installs lua5.1"
    );
    eprintln!(
        "{test}: skipped, {LUA_VAR} is not set (and no lua5.1 on PATH; scripts/setup.sh installs it)"
    );
    None
}

/// Run `lua runner args...` with `obj` on stdin; returns stdout, or why it failed.
fn run(
    lua: &Path,
    runner: &Path,
    args: &[&Path],
    mode: Option<&str>,
    obj: &Value,
) -> Result<String, String> {
    let mut cmd = Command::new(lua);
    cmd.arg(runner);
    if let Some(m) = mode {
        cmd.arg(m);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", lua.display()))?;
    let chunk = format!("return {}", lua_literal(obj));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(chunk.as_bytes())
            .map_err(|e| format!("writing the object to {}: {e}", lua.display()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {}: {e}", lua.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed ({}): {}",
            lua.display(),
            runner.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("output is not UTF-8: {e}"))
}

/// What Argo CD would show for a resource's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub status: String,
    pub message: String,
}

/// Run `deploy/argocd/health.lua` on `obj`.
pub fn health(lua: &Path, repo: &Path, obj: &Value) -> Result<Health, String> {
    let d = dir(repo);
    let out = run(
        lua,
        &d.join("tests/run_health.lua"),
        &[&d.join("health.lua")],
        None,
        obj,
    )?;
    let line = out.trim_end_matches('\n');
    let (status, message) = line
        .split_once('\t')
        .ok_or_else(|| format!("health output is not status<TAB>message: {line:?}"))?;
    Ok(Health {
        status: status.to_owned(),
        message: message.to_owned(),
    })
}

/// Run `deploy/argocd/actions/discovery.lua` on `obj`: each action and whether it is disabled.
pub fn discovery(lua: &Path, repo: &Path, obj: &Value) -> Result<BTreeMap<String, bool>, String> {
    let d = dir(repo);
    let out = run(
        lua,
        &d.join("tests/run_actions.lua"),
        &[&d.join("actions/discovery.lua")],
        Some("discovery"),
        obj,
    )?;
    out.lines()
        .map(|l| match l.split_once('\t') {
            Some((name, "true")) => Ok((name.to_owned(), true)),
            Some((name, "false")) => Ok((name.to_owned(), false)),
            _ => Err(format!("discovery output line is not name<TAB>bool: {l:?}")),
        })
        .collect()
}

/// Run action `name` (`deploy/argocd/actions/<name>/action.lua`) on `obj`; returns the object
/// it gives back, as JSON.
pub fn action(lua: &Path, repo: &Path, name: &str, obj: &Value) -> Result<Value, String> {
    let d = dir(repo);
    let out = run(
        lua,
        &d.join("tests/run_actions.lua"),
        &[&d.join("actions").join(name).join("action.lua")],
        Some("action"),
        obj,
    )?;
    serde_json::from_str(out.trim()).map_err(|e| format!("action {name} output is not JSON: {e}"))
}

/// `v` as it looks after a trip through Lua: nulls gone, and an empty array and an empty
/// object the same (`{}`).
pub fn through_lua(v: &Value) -> Value {
    match v {
        Value::Array(items) if items.iter().all(Value::is_null) => {
            Value::Object(serde_json::Map::new())
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| !i.is_null())
                .map(through_lua)
                .collect(),
        ),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(_, i)| !i.is_null())
                .map(|(k, i)| (k.clone(), through_lua(i)))
                .collect(),
        ),
        // Lua has one number type: a whole float comes back as an integer.
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                Value::from(f as i64)
            }
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

/// The `data` of the `argocd-cm` snippet (`deploy/argocd/argocd-cm.yaml`).
pub fn argocd_cm_data(repo: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = dir(repo).join("argocd-cm.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let cm: Value = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let data = cm
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{}: no data", path.display()))?;
    data.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_owned()))
                .ok_or_else(|| format!("{}: data.{k} is not a string", path.display()))
        })
        .collect()
}
