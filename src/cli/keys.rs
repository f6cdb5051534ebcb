//! `redactd keys init|rotate|list|prune`: the key store of epoch keys.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use clap::Subcommand;
use redactd::config::Config;
use redactd::pseudo::keystore::{KeyPolicy, KeyStore};

use super::setup::load_config;
use super::{Failure, EXIT_CONFIG, EXIT_IO};

/// Key store commands.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create the key directory (0700) and its first key (0600).
    Init(KeysArgs),
    /// Start a new epoch: a fresh key becomes current; the previous one is kept for lookups
    /// until its retention ends.
    Rotate(KeysArgs),
    /// List the keys: id, created, end of use, destroy-after date, status.
    List(KeysArgs),
    /// Destroy keys past their retention: their pseudonyms can no longer be produced or linked.
    Prune(KeysArgs),
}

/// Where the key store is and its policy.
#[derive(clap::Args)]
pub struct KeysArgs {
    /// Configuration file whose [keys] section names the directory and policy.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The key directory (overrides the config's).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Days a key stays current (overrides the config's; default 30).
    #[arg(long, value_name = "DAYS")]
    rotate_days: Option<u32>,
    /// Days a key is kept after its use ends (overrides the config's; default 90).
    #[arg(long, value_name = "DAYS")]
    retain_days: Option<u32>,
}

fn resolve(args: &KeysArgs) -> Result<(PathBuf, KeyPolicy), Failure> {
    let config = match &args.config {
        Some(_) => load_config(args.config.as_deref())?,
        None => Config::shipped(),
    };
    let (dir, mut policy) = match (&args.dir, &config.keys) {
        (Some(dir), keys) => (
            dir.clone(),
            keys.as_ref().map(|k| k.policy).unwrap_or_default(),
        ),
        (None, Some(keys)) => (keys.dir.clone(), keys.policy),
        (None, None) => {
            return Err(Failure(
                EXIT_CONFIG,
                anyhow::anyhow!("no key directory: give --dir DIR or a config with [keys] dir"),
            ))
        }
    };
    let days = |d: u32| std::time::Duration::from_secs(u64::from(d) * 86_400);
    if let Some(d) = args.rotate_days.filter(|d| *d > 0) {
        policy.rotate_after = days(d);
    }
    if let Some(d) = args.retain_days.filter(|d| *d > 0) {
        policy.retain_for = days(d);
    }
    Ok((dir, policy))
}

/// Runs a key store command.
pub fn run(command: KeysCommand) -> Result<(), Failure> {
    let now = SystemTime::now();
    let store_err = |e: redactd::pseudo::keystore::KeyStoreError| Failure(EXIT_CONFIG, e.into());
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| Failure(EXIT_IO, e.into());
    match command {
        KeysCommand::Init(args) => {
            let (dir, policy) = resolve(&args)?;
            let store = KeyStore::init(&dir, policy, now).map_err(store_err)?;
            let key = store.require_current(now).map_err(store_err)?;
            writeln!(out, "created key {} in {}", key.id, dir.display()).map_err(io)?;
        }
        KeysCommand::Rotate(args) => {
            let (dir, policy) = resolve(&args)?;
            let mut store = KeyStore::open(&dir).map_err(store_err)?;
            let key = store.rotate(policy, now).map_err(store_err)?;
            writeln!(out, "key {} is now current in {}", key.id, dir.display()).map_err(io)?;
        }
        KeysCommand::List(args) => {
            let (dir, _) = resolve(&args)?;
            let store = KeyStore::open(&dir).map_err(store_err)?;
            writeln!(
                out,
                "{:<6} {:<22} {:<22} {:<22} STATUS",
                "ID", "CREATED", "USE UNTIL", "DESTROY AFTER"
            )
            .map_err(io)?;
            for k in store.keys() {
                let t = |t| humantime::format_rfc3339_seconds(t).to_string();
                writeln!(
                    out,
                    "{:<6} {:<22} {:<22} {:<22} {}",
                    k.id,
                    t(k.created),
                    t(k.use_until),
                    t(k.destroy_after),
                    store.status(k, now).as_str()
                )
                .map_err(io)?;
            }
        }
        KeysCommand::Prune(args) => {
            let (dir, _) = resolve(&args)?;
            let mut store = KeyStore::open(&dir).map_err(store_err)?;
            let destroyed = store.prune(now).map_err(store_err)?;
            if destroyed.is_empty() {
                writeln!(out, "no key past its retention").map_err(io)?;
            }
            for id in destroyed {
                writeln!(out, "destroyed key {id}").map_err(io)?;
            }
        }
    }
    Ok(())
}
