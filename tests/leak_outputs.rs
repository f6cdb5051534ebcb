//! Planted personal data never leaves redactd by a side door: not in the output, and not in
//! its own stderr, its `--stats` summary or its Prometheus `--stats-file` (metric labels),
//! whatever format the line is in.

use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{3,8}\\.[a-z]{3,8}@[a-z]{4,9}\\.(com|org|co\\.uk)",
        (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        "07[0-9]{3} [0-9]{6}",
    ]
}

fn line(format: usize, v: &str) -> String {
    match format {
        0 => format!("203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] \"GET /a?x={v} HTTP/1.1\" 200 5 \"-\" \"ua {v}\""),
        1 => format!("{{\"msg\":\"seen {v}\",\"user\":\"{v}\"}}"),
        2 => format!("<34>1 2003-10-11T22:14:15.003Z host app - - [x@1 v=\"{v}\"] msg {v}"),
        _ => format!("plain {v} text"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn planted_values_never_reach_stdout_stderr_stats_or_metric_labels(v in value(), format in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let stats_file = dir.path().join("redactd.prom");
        let mut child = Command::new(env!("CARGO_BIN_EXE_redactd"))
            .args(["filter", "--stats", "--stats-file"])
            .arg(&stats_file)
            .env("REDACTD_KEY", "77".repeat(32))
            .env("HOME", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{}", line(format, &v)).unwrap();
        let out = child.wait_with_output().unwrap();
        prop_assert!(out.status.success());
        let stats = std::fs::read_to_string(&stats_file).unwrap();
        prop_assert!(stats.contains("redactd_redactions_total{"), "{stats}");
        for (what, text) in [
            ("stdout", String::from_utf8_lossy(&out.stdout).into_owned()),
            ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
            ("stats file", stats),
        ] {
            prop_assert!(!text.contains(v.as_str()), "{v} in {what}: {text}");
        }
    }
}
