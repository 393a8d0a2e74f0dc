//! Helpers shared by the integration tests: run the real `nninit` binary.
// Each test binary uses a different subset of these.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `nninit` with `args`.
pub fn nninit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nninit")).args(args).output().expect("the binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(args: &[&str]) -> serde_json::Value {
    let out = nninit(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// Asserts one clear error line, exit code 2, no panic.
pub fn assert_bad_input(args: &[&str], needle: &str) {
    let out = nninit(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line expected, got {err:?}");
    assert!(err.starts_with("nninit: "), "{err}");
    assert!(err.contains(needle), "{args:?}: `{needle}` not in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.matches("(os error").count() <= 1, "{args:?}: the OS error printed twice: {err}");
}
