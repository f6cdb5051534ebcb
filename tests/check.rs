//! `redactd check -c FILE`: a valid setup passes with status 0; every problem of a broken one
//! is listed with file, line and column, with status 64; nothing is created.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn redactd(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redactd"));
    cmd.env_remove("REDACTD_KEY")
        .env_remove("REDACTD_KEY_FILE")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home);
    cmd
}

fn check(home: &Path, config: &Path) -> Output {
    redactd(home)
        .args(["check", "-c"])
        .arg(config)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn geoip(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/geoip/maxmind-test")
        .join(name)
}

/// A key store initialised with `redactd keys init`.
fn init_keys(home: &Path, config: &Path) {
    let out = redactd(home)
        .args(["keys", "init", "-c"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

const RULES: &str = "[[rule]]\nid = \"ticket\"\ncategory = \"identity\"\nregex = 'TCK-[0-9]{6}'\naction = \"redact\"\n";

#[test]
fn a_complete_valid_setup_passes_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tickets.toml"), RULES).unwrap();
    let config = dir.path().join("redactd.toml");
    std::fs::write(
        &config,
        format!(
            "[keys]\ndir = \"keys\"\n[geoip]\ncountry = \"{}\"\nasn = \"{}\"\n[rules]\nfiles = [\"tickets.toml\"]\n\n[profile.analytics]\npurpose = \"p\"\nlawful_basis = \"b\"\nretention_days = 30\nclient_ip = \"generalise\"\n",
            geoip("GeoLite2-Country-Test.mmdb").display(),
            geoip("GeoLite2-ASN-Test.mmdb").display()
        ),
    )
    .unwrap();
    init_keys(dir.path(), &config);
    let out = check(dir.path(), &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(stdout.contains("current key"), "{stdout}");
    assert!(stdout.contains("GeoIP country database"), "{stdout}");
    assert!(stdout.contains("profile analytics"), "{stdout}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    let quiet = redactd(dir.path())
        .args(["check", "--quiet", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stdout.is_empty() && quiet.stderr.is_empty());
}

#[test]
fn every_problem_is_listed_with_file_line_and_column_and_status_64() {
    let dir = tempfile::tempdir().unwrap();
    // Line 3, column 9: the regex does not compile.
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[rule]]\nid = \"x\"\nregex = '(unclosed'\naction = \"redact\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("corrupt.mmdb"), b"not a maxmind db").unwrap();
    let config = dir.path().join("redactd.toml");
    std::fs::write(
        &config,
        "[keys]\ndir = \"no-such-keys\"\n[geoip]\ncountry = \"corrupt.mmdb\"\nasn = \"missing.mmdb\"\n[rules]\nfiles = [\"bad.toml\", \"missing-rules.toml\"]\n",
    )
    .unwrap();
    let out = check(dir.path(), &config);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    let cfg = config.display().to_string();
    let bad = dir.path().join("bad.toml").display().to_string();
    for expected in [
        format!("{bad}:3:"),
        format!("{cfg}:7:22: rule file"), // missing-rules.toml, named on line 7
        format!("{cfg}:2:7: key directory"),
        format!("{cfg}:4:11: the GeoIP country database"),
        format!("{cfg}:5:7: cannot read the GeoIP ASN database"),
        "5 errors found".to_string(),
    ] {
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
}

#[test]
fn a_config_syntax_error_points_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("redactd.toml");
    std::fs::write(&config, "[keys]\ndir = \"k\"\nrotate_dayz = 3\n").unwrap();
    let out = check(dir.path(), &config);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:3:1:", config.display())) && err.contains("rotate_dayz"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn a_key_readable_by_others_and_a_store_without_current_key_are_errors() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("redactd.toml");
    std::fs::write(&config, "[keys]\ndir = \"keys\"\n").unwrap();
    init_keys(dir.path(), &config);
    let keys = dir.path().join("keys");
    let key_file = std::fs::read_dir(&keys)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = check(dir.path(), &config);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));

    std::fs::remove_file(&key_file).unwrap();
    let out = check(dir.path(), &config);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("no live key"), "{}", stderr(&out));
}

#[test]
fn check_creates_no_key_and_warns_about_an_unusable_profile() {
    let home = tempfile::tempdir().unwrap();
    // The built-in configuration: the analytics profile needs GeoIP, which it does not name.
    let out = redactd(home.path()).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("profile `analytics` generalises client addresses"),
        "{}",
        stderr(&out)
    );
    assert!(!home.path().join(".config").exists());
}

#[test]
fn exit_statuses_are_documented_in_help() {
    let home = tempfile::tempdir().unwrap();
    let out = redactd(home.path())
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit status: 0 valid") && help.contains("64"),
        "{help}"
    );
    let out = redactd(home.path()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit status") && help.contains("74"),
        "{help}"
    );
}

#[test]
fn input_tls_files_are_loaded_and_a_mismatched_or_missing_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let other_key = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("other.pem"), other_key.serialize_pem()).unwrap();
    let config = dir.path().join("redactd.toml");
    let write = |key_file: &str, ca: &str| {
        std::fs::write(
            &config,
            format!(
                "[keys]\ndir = \"keys\"\n\n[[input]]\ntype = \"proxy\"\nname = \"web\"\nlisten = \"127.0.0.1:0\"\nupstream = \"https://127.0.0.1:1\"\ntls_cert = \"cert.pem\"\ntls_key = \"{key_file}\"\nupstream_ca = \"{ca}\"\n\n[[sink]]\nname = \"out\"\ntype = \"stdout\"\n"
            ),
        )
        .unwrap();
    };
    write("key.pem", "cert.pem");
    init_keys(dir.path(), &config);
    let out = check(dir.path(), &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", stderr(&out));
    assert!(
        stdout.contains("input `web`: TLS certificate and key"),
        "{stdout}"
    );
    assert!(stdout.contains("input `web`: upstream CA"), "{stdout}");

    write("other.pem", "missing-ca.pem");
    let out = check(dir.path(), &config);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(err.contains("does not match the certificate"), "{err}");
    assert!(err.contains("missing-ca.pem"), "{err}");
    assert!(err.contains("2 errors found"), "{err}");
}
