//! Key epochs, lookup and erasure, as an operator runs them: `redactd keys …`,
//! `redactd lookup`, `redactd filter -c` with a key directory.

use std::path::Path;
mod common;

use std::process::{Command, Output, Stdio};

use common::{output_with_stdin, redactd};
use std::time::{Duration, SystemTime};

use redactd::pseudo::keystore::{KeyPolicy, KeyStore};

fn run(cmd: &mut Command, stdin: &str) -> Output {
    let out = output_with_stdin(cmd, stdin.as_bytes());
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A config whose key store lives in `dir/keys`.
fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("redactd.toml");
    std::fs::write(
        &path,
        "[keys]\ndir = \"keys\"\nrotate_days = 30\nretain_days = 90\n",
    )
    .unwrap();
    path
}

/// The `hmac` pseudonym lines of `lookup` output: (key id, status, token).
fn lookup(home: &Path, config: &Path, value: &str) -> Vec<(String, String, String)> {
    let out = run(redactd(home).args(["lookup", value, "-c"]).arg(config), "");
    stdout(&out)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4 && f[2] == "hmac")
                .then(|| (f[0].to_string(), f[1].to_string(), f[3].to_string()))
        })
        .collect()
}

#[test]
fn what_lookup_prints_is_what_filter_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    run(
        redactd(dir.path())
            .args(["keys", "init", "-c"])
            .arg(&config),
        "",
    );
    let line = "203.0.113.9 - jdoe [10/Oct/2023:13:55:36 +0000] \"GET /a?email=Jane.Doe%40Example.com&tel=07700900123 HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n";
    let filtered = stdout(&run(
        redactd(dir.path()).args(["filter", "-c"]).arg(&config),
        line,
    ));
    for (value, kind) in [
        ("jane.doe@example.com", None),
        ("203.0.113.9", None),
        ("+44 7700 900123", None),
        ("jdoe", Some("user")),
    ] {
        let mut cmd = redactd(dir.path());
        cmd.args(["lookup", value, "-c"]).arg(&config);
        if let Some(kind) = kind {
            cmd.args(["--type", kind]);
        }
        let out = stdout(&run(&mut cmd, ""));
        let token = out
            .lines()
            .find(|l| l.contains("\thmac\t"))
            .unwrap()
            .split('\t')
            .nth(3)
            .unwrap()
            .to_string();
        assert!(
            filtered.contains(&token),
            "{value}: {token} not in {filtered}"
        );
    }
    // The same lookup as JSON names the key and the form.
    let json = stdout(&run(
        redactd(dir.path())
            .args(["lookup", "jane.doe@example.com", "--json", "-c"])
            .arg(&config),
        "",
    ));
    assert!(
        json.starts_with("[{\"key_id\":") && json.contains("\"hmac\":\"email:"),
        "{json}"
    );
}

#[test]
fn rotation_keeps_old_pseudonyms_findable_and_new_lines_use_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    run(
        redactd(dir.path())
            .args(["keys", "init", "-c"])
            .arg(&config),
        "",
    );
    let before = stdout(&run(
        redactd(dir.path()).args(["filter", "-c"]).arg(&config),
        "mail jane@example.com\n",
    ));
    run(
        redactd(dir.path())
            .args(["keys", "rotate", "-c"])
            .arg(&config),
        "",
    );
    let after = stdout(&run(
        redactd(dir.path()).args(["filter", "-c"]).arg(&config),
        "mail jane@example.com\n",
    ));
    assert_ne!(before, after, "a new epoch gives new pseudonyms");
    let found = lookup(dir.path(), &config, "jane@example.com");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .any(|(_, status, t)| status == "retired" && before.contains(t.as_str())));
    assert!(found
        .iter()
        .any(|(_, status, t)| status == "current" && after.contains(t.as_str())));
    let list = stdout(&run(
        redactd(dir.path())
            .args(["keys", "list", "-c"])
            .arg(&config),
        "",
    ));
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.contains("current") && list.contains("retired"));
}

#[test]
fn a_pruned_key_past_retention_can_no_longer_produce_its_pseudonyms() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let keys = dir.path().join("keys");
    // An epoch that began 200 days ago: 30 days of use + 90 of retention are long over.
    let long_ago = SystemTime::now() - Duration::from_secs(200 * 86_400);
    let policy = KeyPolicy {
        rotate_after: Duration::from_secs(30 * 86_400),
        retain_for: Duration::from_secs(90 * 86_400),
    };
    let mut store = KeyStore::init(&keys, policy, long_ago).unwrap();
    let old_id = store.current(long_ago).unwrap().id.clone();
    let old_filtered = stdout(&run(
        redactd(dir.path())
            .arg("filter")
            .arg("--key-file")
            .arg(&store.current(long_ago).unwrap().path),
        "mail jane@example.com\n",
    ));
    store
        .rotate(
            policy,
            SystemTime::now() - Duration::from_secs(100 * 86_400),
        )
        .unwrap();
    store.rotate(policy, SystemTime::now()).unwrap();
    let pruned = stdout(&run(
        redactd(dir.path())
            .args(["keys", "prune", "-c"])
            .arg(&config),
        "",
    ));
    assert!(
        pruned.contains(&format!("destroyed key {old_id}")),
        "{pruned}"
    );
    let found = lookup(dir.path(), &config, "jane@example.com");
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|(id, _, token)| *id != old_id && !old_filtered.contains(token.as_str())),
        "{found:?}"
    );
    assert!(!std::fs::read_dir(&keys).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains(&old_id)));
}

#[cfg(unix)]
#[test]
fn a_key_readable_by_others_makes_filter_refuse_to_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    run(
        redactd(dir.path())
            .args(["keys", "init", "-c"])
            .arg(&config),
        "",
    );
    for entry in std::fs::read_dir(dir.path().join("keys")).unwrap() {
        std::fs::set_permissions(
            entry.unwrap().path(),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = redactd(dir.path())
        .args(["filter", "-c"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}
