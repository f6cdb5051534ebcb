//! Helpers shared by the integration tests that run the built binary.

#![allow(dead_code)] // each test crate uses its own subset

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The built `redactd`, isolated from the caller's keys: no key variables, `HOME` set to
/// `home` so a created default key lands there.
pub fn redactd(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redactd"));
    cmd.env_remove("REDACTD_KEY")
        .env_remove("REDACTD_KEY_FILE")
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME");
    cmd
}

/// Runs `cmd` with `stdin` fed from another thread (so large inputs cannot deadlock) and
/// returns its output, whatever its status.
pub fn output_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// `promtool check metrics` on an exposition `text`: its output (status, stdout, stderr).
pub fn promtool_check_metrics(text: &str) -> Output {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed (Debian package `prometheus`; .ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
