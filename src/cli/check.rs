//! `redactd check`: validates everything a configuration names, without redacting, writing
//! or creating anything, and reports every problem with file, line and column.
//!
//! Checked, in order (a failed step does not stop the later ones, so one run lists every
//! problem): the configuration file itself; every rule file (shipped, the config's, `--rules`)
//! and the compiled rule set; the keys (readable, mode 0600 or stricter, a current key in the
//! key store, none overdue for rotation — a warning); the GeoIP databases; every profile
//! (a profile that needs GeoIP without a configured database is a warning: unusable, not
//! invalid). Run it before a start or reload (`ExecStartPre`,
//! `ExecReload`) and in CI.
//!
//! Exit status: 0 valid (warnings allowed), 64 any error.

use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use redactd::config::Config;
use redactd::minimise::geo::{GeoConfig, GeoDb};
use redactd::minimise::Minimiser;
use redactd::pseudo::keystore::{KeyStatus, KeyStore};
use redactd::pseudo::{Key, Pseudonymiser, KEY_ENV};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

use super::setup::{load_config, CommonArgs};
use super::{Failure, EXIT_CONFIG};

/// Arguments of `check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Print only problems (nothing when the configuration is valid).
    #[arg(short, long)]
    quiet: bool,
}

/// What a check found.
#[derive(Default)]
struct Report {
    errors: Vec<String>,
    warnings: Vec<String>,
    ok: Vec<String>,
}

impl Report {
    fn error(&mut self, e: impl Display) {
        self.errors.push(e.to_string());
    }
    fn warn(&mut self, e: impl Display) {
        self.warnings.push(e.to_string());
    }
    fn ok(&mut self, what: impl Display) {
        self.ok.push(what.to_string());
    }
}

/// Runs `check`.
pub fn run(args: CheckArgs) -> Result<(), Failure> {
    let name = args.common.config.as_ref().map_or_else(
        || "the built-in configuration".to_string(),
        |p| p.display().to_string(),
    );
    // An unreadable or invalid config file stops here: nothing else can be located.
    let config = load_config(args.common.config.as_deref())?;
    let mut report = Report::default();
    report.ok(format!("configuration {name} parses"));
    let rules = check_rules(&config, &args.common, &mut report);
    let key = check_keys(&config, &args.common, &mut report);
    if let Some(rules) = &rules {
        // A stand-in key lets the patterns compile when the real key is missing (that is
        // reported above); it never leaves this function.
        let stand_in = Key::from_bytes([0; 32]);
        let pseudo = Pseudonymiser::new(key.as_ref().unwrap_or(&stand_in));
        match Redactor::new(rules, Some(pseudo)) {
            Ok(r) => report.ok(format!("{} rules compile", r.rules().len())),
            Err(e) => report.error(format!("rules: {e}")),
        }
    }
    let geo = check_geoip(&config, &mut report);
    check_profiles(&config, key.as_ref(), geo, &mut report);
    check_input_files(&config, &mut report);

    if !args.quiet {
        for line in &report.ok {
            println!("ok: {line}");
        }
    }
    for w in &report.warnings {
        eprintln!("redactd: warning: {w}");
    }
    for e in &report.errors {
        eprintln!("redactd: error: {e}");
    }
    if report.errors.is_empty() {
        if !args.quiet {
            println!("{name} is valid");
        }
        Ok(())
    } else {
        let n = report.errors.len();
        Err(Failure(
            EXIT_CONFIG,
            anyhow::anyhow!("{name}: {n} error{} found", if n == 1 { "" } else { "s" }),
        ))
    }
}

/// Loads each input's TLS certificate and key (checking they match) and a proxy's extra
/// upstream CA, as starting it would.
fn check_input_files(config: &Config, report: &mut Report) {
    use redactd::config::InputKind;
    use redactd::proxy::{check_tls_files, check_upstream_ca, TlsFiles};
    for input in &config.inputs {
        let (tls, ca) = match &input.kind {
            InputKind::Proxy(p) => (p.tls.as_ref(), p.upstream_ca.as_deref()),
            InputKind::Syslog(s) => (s.tls.as_ref(), None),
            InputKind::Stdin => (None, None),
        };
        if let Some((cert, key)) = tls {
            let files = TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            };
            match check_tls_files(&files) {
                Ok(()) => report.ok(format!("input `{}`: TLS certificate and key", input.name)),
                Err(e) => report.error(format!("input `{}`: {e}", input.name)),
            }
        }
        if let Some(ca) = ca {
            match check_upstream_ca(ca) {
                Ok(()) => report.ok(format!("input `{}`: upstream CA", input.name)),
                Err(e) => report.error(format!("input `{}`: {e}", input.name)),
            }
        }
    }
}

/// Loads every rule file, reporting each broken one; `None` when any failed.
fn check_rules(config: &Config, args: &CommonArgs, report: &mut Report) -> Option<RuleSet> {
    let mut set = if args.no_default_rules || !config.shipped_rules {
        RuleSet::new()
    } else {
        RuleSet::shipped()
    };
    let mut failed = false;
    let from_config = config
        .rule_files
        .iter()
        .enumerate()
        .map(|(i, f)| (Some(i), f));
    let from_args = args.rule_files.iter().map(|f| (None, f));
    for (index, file) in from_config.chain(from_args) {
        match set.add_file(file) {
            Ok(()) => report.ok(format!("rule file {}", file.display())),
            // An unreadable file has no position of its own: point at the config line
            // that names it.
            Err(e) if e.line == 0 && index.is_some() => {
                failed = true;
                report.error(config.error_at(
                    &format!("rules.files.{}", index.unwrap_or_default()),
                    format!("rule file {}: {}", file.display(), e.message),
                ));
            }
            Err(e) if e.line == 0 => {
                failed = true;
                report.error(format!("{}: {}", e.file, e.message));
            }
            Err(e) => {
                failed = true;
                report.error(e);
            }
        }
    }
    (!failed).then_some(set)
}

/// Reads the keys the commands would use, creating nothing. Returns the current key.
fn check_keys(config: &Config, args: &CommonArgs, report: &mut Report) -> Option<Key> {
    if let Some(path) = &args.key_file {
        return match Key::from_file(path) {
            Ok(key) => {
                report.ok(format!("key file {} (key id {})", path.display(), key.id()));
                Some(key)
            }
            Err(e) => {
                report.error(e);
                None
            }
        };
    }
    if let Some(keys) = &config.keys {
        let now = SystemTime::now();
        let at = |m: String| config.error_at("keys.dir", m);
        let store = match KeyStore::open(&keys.dir) {
            Ok(store) => store,
            Err(e) => {
                report.error(at(e.to_string()));
                return None;
            }
        };
        check_dir_mode(&keys.dir, report);
        let current = match store.require_current(now) {
            Ok(current) => current,
            Err(e) => {
                report.error(at(e.to_string()));
                return None;
            }
        };
        if store.status(current, now) == KeyStatus::Overdue {
            report.warn(at(format!(
                "key {} is past its rotation date; run `redactd keys rotate`",
                current.id
            )));
        }
        report.ok(format!(
            "key store {}: current key {}, {} live",
            keys.dir.display(),
            current.id,
            store.live(now).count()
        ));
        return Some(current.key.clone());
    }
    if let Ok(hex) = std::env::var(KEY_ENV) {
        return match Key::from_hex(&hex, KEY_ENV) {
            Ok(key) => {
                report.ok(format!("key from ${KEY_ENV} (key id {})", key.id()));
                Some(key)
            }
            Err(e) => {
                report.error(e);
                None
            }
        };
    }
    let path = Key::default_path();
    if !path.exists() {
        report.ok(format!(
            "no key yet: the first command that pseudonymises creates {}",
            path.display()
        ));
        return None;
    }
    match Key::from_file(&path) {
        Ok(key) => {
            report.ok(format!("key file {} (key id {})", path.display(), key.id()));
            Some(key)
        }
        Err(e) => {
            report.error(e);
            None
        }
    }
}

/// A key directory others can write to lets them plant a key: warn.
#[cfg(unix)]
fn check_dir_mode(dir: &Path, report: &mut Report) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(dir) {
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            report.warn(format!(
                "key directory {} is writable by group or others (mode {mode:04o}); 0700 is expected",
                dir.display()
            ));
        }
    }
}

#[cfg(not(unix))]
fn check_dir_mode(_dir: &Path, _report: &mut Report) {}

/// Opens each configured GeoIP database; the opened set when all open.
fn check_geoip(config: &Config, report: &mut Report) -> Option<Arc<GeoDb>> {
    if !config.geoip.any() {
        return None;
    }
    let g = &config.geoip;
    let mut all = true;
    for (key, path) in [("country", &g.country), ("city", &g.city), ("asn", &g.asn)] {
        let Some(path) = path else { continue };
        let one = GeoConfig {
            country: (key == "country").then(|| path.clone()),
            city: (key == "city").then(|| path.clone()),
            asn: (key == "asn").then(|| path.clone()),
        };
        match GeoDb::open(&one) {
            Ok(_) => report.ok(format!("GeoIP {key} database {}", path.display())),
            Err(e) => {
                all = false;
                report.error(config.error_at(&format!("geoip.{key}"), e.to_string()));
            }
        }
    }
    if !all {
        return None;
    }
    let paths = GeoConfig {
        country: g.country.clone(),
        city: g.city.clone(),
        asn: g.asn.clone(),
    };
    match GeoDb::open(&paths) {
        Ok(db) => Some(Arc::new(db)),
        Err(e) => {
            report.error(config.error_at("geoip.country", e.to_string()));
            None
        }
    }
}

/// Builds each profile's minimiser, as `--profile NAME` would.
fn check_profiles(
    config: &Config,
    key: Option<&Key>,
    geo: Option<Arc<GeoDb>>,
    report: &mut Report,
) {
    for (name, profile) in &config.profiles {
        let at = |m: String| config.error_at(&format!("profile.{name}"), m);
        if profile.needs_geoip() && !config.geoip.any() {
            // The shipped config defines such a profile; it is unusable, not invalid.
            report.warn(at(format!(
                "profile `{name}` generalises client addresses but no [geoip] database is configured: `--profile {name}` fails until one is"
            )));
            continue;
        }
        if profile.needs_geoip() && geo.is_none() {
            // The database error is already reported.
            continue;
        }
        let stand_in = Key::from_bytes([0; 32]);
        let geo = profile.needs_geoip().then(|| geo.clone()).flatten();
        match Minimiser::new(profile.clone(), Some(key.unwrap_or(&stand_in)), geo) {
            Ok(_) => report.ok(format!("profile {name}")),
            Err(e) => report.error(at(format!("profile `{name}`: {e}"))),
        }
    }
}
