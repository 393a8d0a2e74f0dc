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

/// How a run of [`nninit_bounded`] ended.
#[derive(Debug)]
pub enum Ended {
    /// The process exited (or was killed by a signal) within the deadline.
    Exited(Output),
    /// The deadline passed; the process was killed.
    TimedOut,
}

/// Runs `nninit args` in `dir` with `env` set, killing it after `deadline`.
///
/// On Unix the process runs with its address space capped at 4 GiB and its
/// files at 64 MiB, so that a size check that is missing shows as a failed
/// run of this test (an abort, or SIGXFSZ), not as a machine out of memory
/// or disk. glibc's malloc arenas are capped so that the cap does not count
/// reserved, unused memory on machines with many cores.
pub fn nninit_bounded(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    deadline: std::time::Duration,
) -> Ended {
    use std::io::Read;
    use std::process::Stdio;
    let bin = env!("CARGO_BIN_EXE_nninit");
    let mut command = if cfg!(unix) {
        let mut c = Command::new("sh");
        c.arg("-c").arg(r#"ulimit -v 4194304 && ulimit -f 131072 && exec "$0" "$@""#).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    command.args(args).current_dir(dir).env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
    command.env("MALLOC_ARENA_MAX", "2");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the binary starts");
    // Drain both pipes while waiting, so that a chatty process cannot block on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting on the binary") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    match status {
        Some(status) => Ended::Exited(Output { status, stdout, stderr }),
        None => Ended::TimedOut,
    }
}

/// The exit code, or the signal that ended the process.
pub fn exit_description(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit {code}"),
        None => "no exit code".to_string(),
    }
}
