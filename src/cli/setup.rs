//! What every command loads: the configuration, the rules, the keys, the profile; each
//! failure maps to an exit status.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use redactd::config::Config;
use redactd::minimise::geo::{GeoConfig, GeoDb};
use redactd::minimise::Minimiser;
use redactd::pseudo::keystore::{KeyStatus, KeyStore};
use redactd::pseudo::{Key, Pseudonymiser, KEY_ENV, KEY_FILE_ENV};
use redactd::redact::Redactor;
use redactd::rules::{Action, RuleSet};

use super::{Failure, EXIT_CONFIG};

/// Options shared by the commands that redact.
#[derive(clap::Args, Clone)]
pub struct CommonArgs {
    /// Configuration file [default: the shipped config/redactd.toml].
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra rule file(s), loaded after the shipped rules and the config's; a rule with a
    /// shipped rule's id replaces it. Repeatable.
    #[arg(long = "rules", value_name = "FILE")]
    pub rule_files: Vec<PathBuf>,
    /// Do not load the shipped rules.
    #[arg(long)]
    pub no_default_rules: bool,
    /// Pseudonymisation key file (64 hex digits, mode 0600). Without it: the config's
    /// [keys] directory, else $REDACTD_KEY, else the default key file, created on first use.
    #[arg(long, value_name = "PATH", env = KEY_FILE_ENV)]
    pub key_file: Option<PathBuf>,
}

/// The keys in force: the one new pseudonyms are made with, and every live one (for
/// lookups), with their status.
pub struct KeyRing {
    /// The current key.
    pub current: Key,
    /// Every live key: id, created (RFC 3339, or `-`), status, key.
    pub live: Vec<(String, String, &'static str, Key)>,
}

pub fn load_config(path: Option<&Path>) -> Result<Config, Failure> {
    match path {
        Some(p) => Config::load(p).map_err(|e| Failure(EXIT_CONFIG, e.into())),
        None => Ok(Config::shipped()),
    }
}

pub fn load_rules(config: &Config, args: &CommonArgs) -> Result<RuleSet, Failure> {
    let mut set = if args.no_default_rules || !config.shipped_rules {
        RuleSet::new()
    } else {
        RuleSet::shipped()
    };
    for file in config.rule_files.iter().chain(&args.rule_files) {
        set.add_file(file)
            .map_err(|e| Failure(EXIT_CONFIG, e.into()))?;
    }
    Ok(set)
}

/// The keys: `--key-file`, else the config's key store, else `$REDACTD_KEY`, else the
/// default key file (created with a notice on first use).
pub fn load_keys(config: &Config, key_file: Option<&Path>) -> Result<KeyRing, Failure> {
    let config_err = |e: anyhow::Error| Failure(EXIT_CONFIG, e);
    let single = |key: Key| KeyRing {
        live: vec![(key.id(), "-".into(), "current", key.clone())],
        current: key,
    };
    if let Some(path) = key_file {
        return Ok(single(
            Key::from_file(path).map_err(|e| config_err(e.into()))?,
        ));
    }
    if let Some(keys) = &config.keys {
        let now = SystemTime::now();
        let store = KeyStore::open(&keys.dir).map_err(|e| config_err(e.into()))?;
        let current = store
            .require_current(now)
            .map_err(|e| config_err(e.into()))?;
        if store.status(current, now) == KeyStatus::Overdue {
            tracing::warn!(
                key = %current.id,
                dir = %keys.dir.display(),
                "Key is past its rotation date; run `redactd keys rotate`."
            );
        }
        let live = store
            .live(now)
            .map(|k| {
                (
                    k.id.clone(),
                    humantime::format_rfc3339_seconds(k.created).to_string(),
                    store.status(k, now).as_str(),
                    k.key.clone(),
                )
            })
            .collect();
        return Ok(KeyRing {
            current: current.key.clone(),
            live,
        });
    }
    if let Ok(hex) = std::env::var(KEY_ENV) {
        return Ok(single(
            Key::from_hex(&hex, KEY_ENV).map_err(|e| config_err(e.into()))?,
        ));
    }
    let path = Key::default_path();
    let (key, created) = Key::load_or_create(&path).map_err(|e| config_err(e.into()))?;
    if created {
        tracing::info!(
            path = %path.display(),
            key = %key.id(),
            "No key found, so created a new pseudonymisation key (mode 0600). Keep it and back it up: the same key gives the same pseudonyms; set --key-file or ${} to choose another.",
            KEY_ENV
        );
    }
    Ok(single(key))
}

/// Builds the redactor: rules, the key when something pseudonymises, and the profile.
pub fn build_redactor(
    config: &Config,
    rules: &RuleSet,
    key_file: Option<&Path>,
    profile: Option<&str>,
) -> Result<Redactor, Failure> {
    let config_err = |e: anyhow::Error| Failure(EXIT_CONFIG, e);
    let profile = profile
        .map(|name| {
            config
                .profile(name)
                .cloned()
                .map_err(|m| config_err(anyhow::anyhow!(m)))
        })
        .transpose()?;
    let needs_key = rules
        .rules()
        .iter()
        .any(|r| r.enabled && r.action == Action::Pseudonymise)
        || profile.is_some();
    let key = if needs_key {
        Some(load_keys(config, key_file)?.current)
    } else {
        None
    };
    let redactor = Redactor::new(rules, key.as_ref().map(Pseudonymiser::new))
        .map_err(|e| config_err(e.into()))?;
    let Some(profile) = profile else {
        return Ok(redactor);
    };
    let geo = if profile.needs_geoip() && config.geoip.any() {
        let paths = GeoConfig {
            country: config.geoip.country.clone(),
            city: config.geoip.city.clone(),
            asn: config.geoip.asn.clone(),
        };
        Some(Arc::new(
            GeoDb::open(&paths).map_err(|e| config_err(e.into()))?,
        ))
    } else {
        None
    };
    let minimiser = Minimiser::new(profile, key.as_ref(), geo).map_err(|e| config_err(e.into()))?;
    Ok(redactor.with_minimiser(minimiser))
}

/// When the current key epoch began and how often keys rotate, for the key-epoch metrics;
/// `None` without a key store (a single key has no epoch).
pub fn key_epoch(config: &Config) -> Option<(SystemTime, std::time::Duration)> {
    let keys = config.keys.as_ref()?;
    let store = KeyStore::open(&keys.dir).ok()?;
    let current = store.current(SystemTime::now())?;
    Some((current.created, keys.policy.rotate_after))
}

/// Parses `--admin-addr`: an address, or `off` for none.
pub fn admin_addr(value: &str) -> Result<Option<std::net::SocketAddr>, Failure> {
    match value {
        "off" => Ok(None),
        addr => addr.parse().map(Some).map_err(|_| {
            Failure(
                EXIT_CONFIG,
                anyhow::anyhow!("--admin-addr: `{addr}` is not an address (or `off`)"),
            )
        }),
    }
}

/// Rebuilds what a reload swaps in, from the files named on the command line.
pub type Rebuild<T> = Arc<dyn Fn() -> Result<T, Failure> + Send + Sync>;

/// On every SIGHUP: `rebuild` (rules, keys, GeoIP, profiles) off the async workers, then
/// `apply` it; the result is counted in `redactd_reloads_total` and logged, and a
/// configuration that fails to load is refused while the running one stays. Ends when
/// `apply` returns false (the server it feeds has stopped).
#[cfg(unix)]
pub async fn reload_on_sighup<T: Send + 'static>(
    rebuild: Rebuild<T>,
    apply: impl Fn(T) -> bool,
    metrics: Arc<redactd::metrics::Metrics>,
) {
    use redactd::metrics::ReloadResult;
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        let rebuild = rebuild.clone();
        let built = match tokio::task::spawn_blocking(move || rebuild()).await {
            Ok(built) => built,
            Err(_) => Err(Failure(
                EXIT_CONFIG,
                anyhow::anyhow!("the reload task failed"),
            )),
        };
        match built {
            Ok(new) => {
                if !apply(new) {
                    return;
                }
                metrics.reload(ReloadResult::Success);
                eprintln!("redactd: reloaded: new rules, keys and profiles in force.");
            }
            Err(Failure(_, e)) => {
                metrics.reload(ReloadResult::Failure);
                eprintln!("redactd: reload refused, the running configuration stays: {e:#}");
            }
        }
    }
}
