//! A directory of epoch keys: each key is used for a period, kept for the retention period
//! so its pseudonyms can still be looked up, then destroyed — after which its pseudonyms are
//! anonymous (erasure by key destruction).
//!
//! Each key is one file `<created>-<id>.key` (mode 0600, in a 0700 directory):
//!
//! ```toml
//! id = "1a2b"                              # the short id tokens carry
//! created = "2026-11-30T11:00:00Z"
//! use_until = "2026-12-30T11:00:00Z"       # after this a newer key should be current
//! destroy_after = "2027-03-30T11:00:00Z"   # use_until + retention
//! secret = "…64 hex digits…"
//! ```
//!
//! Rotation is an operator's act (`redactd keys rotate`, from cron or a Kubernetes CronJob),
//! never automatic in a replica: replicas sharing the directory must agree on the current key.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::key::{check_private, create_private_dir, open_private};
use super::{Key, KeyError};

/// How long a key is used and how long it is kept after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// How long a key stays current.
    pub rotate_after: Duration,
    /// How long a key is kept after its use ends (the retention of the logs it marked).
    pub retain_for: Duration,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy {
            rotate_after: Duration::from_secs(30 * 86_400),
            retain_for: Duration::from_secs(90 * 86_400),
        }
    }
}

/// One key of the store.
#[derive(Clone)]
pub struct EpochKey {
    /// The short public id, as tokens carry it.
    pub id: String,
    /// When it was created.
    pub created: SystemTime,
    /// When a newer key should take over.
    pub use_until: SystemTime,
    /// When it is destroyed.
    pub destroy_after: SystemTime,
    /// The key material.
    pub key: Key,
    /// Its file.
    pub path: PathBuf,
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochKey")
            .field("id", &self.id)
            .field("created", &humantime::format_rfc3339_seconds(self.created))
            .field(
                "use_until",
                &humantime::format_rfc3339_seconds(self.use_until),
            )
            .field(
                "destroy_after",
                &humantime::format_rfc3339_seconds(self.destroy_after),
            )
            .finish()
    }
}

/// Where a key stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// The key new pseudonyms are made with.
    Current,
    /// The current key, past its `use_until`: rotate.
    Overdue,
    /// No longer used; kept so its pseudonyms can be looked up.
    Retired,
    /// Past `destroy_after`: `prune` destroys it.
    Expired,
}

impl KeyStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Current => "current",
            KeyStatus::Overdue => "overdue",
            KeyStatus::Retired => "retired",
            KeyStatus::Expired => "expired",
        }
    }
}

/// Why a key store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// A key file problem (permissions, I/O, malformed key).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The directory could not be read or written.
    #[error("key directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A key file is not a valid key record.
    #[error("key file {path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the secret).
        message: String,
    },
    /// `init` on a directory that already holds keys.
    #[error("key directory {0} already holds keys; use `redactd keys rotate`")]
    NotEmpty(PathBuf),
    /// The directory holds no live key.
    #[error(
        "key directory {0} holds no live key; run `redactd keys init` or `redactd keys rotate`"
    )]
    NoKey(PathBuf),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRecord {
    id: String,
    created: String,
    use_until: String,
    destroy_after: String,
    secret: String,
}

/// The keys of one directory, oldest first.
#[derive(Debug)]
pub struct KeyStore {
    dir: PathBuf,
    keys: Vec<EpochKey>,
}

impl KeyStore {
    /// Creates the directory (0700) and its first key; refuses a directory with keys.
    pub fn init(dir: &Path, policy: KeyPolicy, now: SystemTime) -> Result<Self, KeyStoreError> {
        let dir_err = |source| KeyStoreError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        create_private_dir(dir).map_err(dir_err)?;
        let mut store = KeyStore::open(dir)?;
        if !store.keys.is_empty() {
            return Err(KeyStoreError::NotEmpty(dir.to_path_buf()));
        }
        store.add(Key::generate(), policy, now)?;
        Ok(store)
    }

    /// Loads every key file of the directory (refusing any readable by group or others).
    pub fn open(dir: &Path) -> Result<Self, KeyStoreError> {
        let dir_err = |source| KeyStoreError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        let mut keys = Vec::new();
        for entry in fs::read_dir(dir).map_err(dir_err)? {
            let path = entry.map_err(dir_err)?.path();
            if path.extension().is_some_and(|e| e == "key") {
                keys.push(read_key(&path)?);
            }
        }
        // Keys made within one second (created is stored to the second) order by the end of
        // their use: a rotated-out key before its successor, whatever order read_dir gives.
        keys.sort_by_key(|k| (k.created, k.use_until));
        Ok(KeyStore {
            dir: dir.to_path_buf(),
            keys,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> &[EpochKey] {
        &self.keys
    }

    /// Keys not yet past `destroy_after`, oldest first.
    pub fn live(&self, now: SystemTime) -> impl Iterator<Item = &EpochKey> {
        self.keys.iter().filter(move |k| k.destroy_after > now)
    }

    /// The key new pseudonyms are made with: the newest live key created at or before `now`
    /// whose use has not ended (a rotation ends the previous key's use, even within the
    /// same second); failing that, the newest live key (overdue: rotate).
    pub fn current(&self, now: SystemTime) -> Option<&EpochKey> {
        let started = || self.live(now).filter(|k| k.created <= now);
        started()
            .filter(|k| k.use_until > now)
            .last()
            .or_else(|| started().last())
    }

    /// The current key, or an error naming the directory.
    pub fn require_current(&self, now: SystemTime) -> Result<&EpochKey, KeyStoreError> {
        self.current(now)
            .ok_or_else(|| KeyStoreError::NoKey(self.dir.clone()))
    }

    /// Where `key` stands at `now`.
    pub fn status(&self, key: &EpochKey, now: SystemTime) -> KeyStatus {
        if key.destroy_after <= now {
            KeyStatus::Expired
        } else if self
            .current(now)
            .is_some_and(|c| c.id == key.id && c.created == key.created)
        {
            if key.use_until <= now {
                KeyStatus::Overdue
            } else {
                KeyStatus::Current
            }
        } else {
            KeyStatus::Retired
        }
    }

    /// Starts a new epoch: a fresh key becomes current and the previous current key's use
    /// ends now (its retention counts from now).
    pub fn rotate(
        &mut self,
        policy: KeyPolicy,
        now: SystemTime,
    ) -> Result<&EpochKey, KeyStoreError> {
        if let Some(i) = self
            .current(now)
            .map(|c| c.path.clone())
            .and_then(|p| self.keys.iter().position(|k| k.path == p))
        {
            let previous = &mut self.keys[i];
            if previous.use_until > now {
                previous.use_until = now;
                previous.destroy_after = now + policy.retain_for;
                write_key(previous, false)?;
            }
        }
        let mut key = Key::generate();
        while self.keys.iter().any(|k| k.id == key.id()) {
            key = Key::generate(); // 4 hex digits: keep ids unique within a store
        }
        self.add(key, policy, now)
    }

    /// Destroys every key past `destroy_after` (overwritten, synced, removed); returns
    /// their ids.
    pub fn prune(&mut self, now: SystemTime) -> Result<Vec<String>, KeyStoreError> {
        let mut destroyed = Vec::new();
        let mut kept = Vec::new();
        for key in std::mem::take(&mut self.keys) {
            if key.destroy_after <= now {
                destroy_file(&key.path)?;
                destroyed.push(key.id.clone());
            } else {
                kept.push(key);
            }
        }
        self.keys = kept;
        Ok(destroyed)
    }

    fn add(
        &mut self,
        key: Key,
        policy: KeyPolicy,
        now: SystemTime,
    ) -> Result<&EpochKey, KeyStoreError> {
        let now = truncate_to_seconds(now);
        let id = key.id();
        let stamp = humantime::format_rfc3339_seconds(now)
            .to_string()
            .replace([':', '-'], "");
        let epoch = EpochKey {
            path: self.dir.join(format!("{stamp}-{id}.key")),
            id,
            created: now,
            use_until: now + policy.rotate_after,
            destroy_after: now + policy.rotate_after + policy.retain_for,
            key,
        };
        write_key(&epoch, true)?;
        self.keys.push(epoch);
        Ok(self.keys.last().expect("just pushed"))
    }
}

fn truncate_to_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn read_key(path: &Path) -> Result<EpochKey, KeyStoreError> {
    check_private(path)?;
    let malformed = |message: String| KeyStoreError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let text = fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // The error text of a TOML parse may quote the offending line; never show it here.
    let record: KeyRecord = toml::from_str(&text).map_err(|_| {
        malformed("not a key record (id, created, use_until, destroy_after, secret)".into())
    })?;
    let time = |name: &str, value: &str| {
        humantime::parse_rfc3339(value)
            .map_err(|_| malformed(format!("`{name}` is not an RFC 3339 time")))
    };
    let key = Key::from_hex(&record.secret, &path.display().to_string())?;
    if key.id() != record.id {
        return Err(malformed(format!(
            "id `{}` does not match the key (its id is {})",
            record.id,
            key.id()
        )));
    }
    Ok(EpochKey {
        id: record.id,
        created: time("created", &record.created)?,
        use_until: time("use_until", &record.use_until)?,
        destroy_after: time("destroy_after", &record.destroy_after)?,
        key,
        path: path.to_path_buf(),
    })
}

fn write_key(key: &EpochKey, create: bool) -> Result<(), KeyStoreError> {
    let io = |source| KeyError::Io {
        path: key.path.clone(),
        source,
    };
    let record = KeyRecord {
        id: key.id.clone(),
        created: humantime::format_rfc3339_seconds(key.created).to_string(),
        use_until: humantime::format_rfc3339_seconds(key.use_until).to_string(),
        destroy_after: humantime::format_rfc3339_seconds(key.destroy_after).to_string(),
        secret: hex::encode(key.key.bytes()),
    };
    let text = format!(
        "# redactd pseudonymisation key. Secret: never copy it anywhere it could leak.\n{}",
        toml::to_string(&record).expect("a flat record serialises")
    );
    if create {
        let mut file = open_private(&key.path).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    } else {
        // Replace atomically: write a private temporary file, then rename over.
        let tmp = key.path.with_extension("key.tmp");
        let _ = fs::remove_file(&tmp);
        let mut file = open_private(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, &key.path).map_err(io)?;
    }
    Ok(())
}

/// Overwrites a key file with zeros, syncs it and removes it.
fn destroy_file(path: &Path) -> Result<(), KeyStoreError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = fs::metadata(path).map_err(io)?.len() as usize;
    let mut file = fs::OpenOptions::new().write(true).open(path).map_err(io)?;
    file.write_all(&vec![0u8; len]).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::remove_file(path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn t0() -> SystemTime {
        humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
    }

    fn policy() -> KeyPolicy {
        KeyPolicy {
            rotate_after: 30 * DAY,
            retain_for: 90 * DAY,
        }
    }

    #[test]
    fn init_creates_one_private_current_key_and_refuses_a_second_init() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let store = KeyStore::init(&keys, policy(), t0()).unwrap();
        let current = store.current(t0()).unwrap();
        assert_eq!(current.use_until, t0() + 30 * DAY);
        assert_eq!(current.destroy_after, t0() + 120 * DAY);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&current.path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        assert!(matches!(
            KeyStore::init(&keys, policy(), t0()),
            Err(KeyStoreError::NotEmpty(_))
        ));
    }

    #[test]
    fn rotate_makes_a_new_current_key_and_retires_the_old_one_from_now() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::init(dir.path(), policy(), t0()).unwrap();
        let first = store.current(t0()).unwrap().id.clone();
        let later = t0() + 10 * DAY;
        let second = store.rotate(policy(), later).unwrap().id.clone();
        assert_ne!(first, second);
        let reopened = KeyStore::open(dir.path()).unwrap();
        assert_eq!(reopened.current(later).unwrap().id, second);
        let old = reopened.keys().iter().find(|k| k.id == first).unwrap();
        assert_eq!(old.use_until, later);
        assert_eq!(old.destroy_after, later + 90 * DAY);
        assert_eq!(reopened.status(old, later), KeyStatus::Retired);
        assert_eq!(reopened.live(later).count(), 2);
    }

    #[test]
    fn prune_destroys_only_keys_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::init(dir.path(), policy(), t0()).unwrap();
        let first = store.current(t0()).unwrap().clone();
        store.rotate(policy(), t0() + 30 * DAY).unwrap();
        assert!(store.prune(t0() + 119 * DAY).unwrap().is_empty());
        assert_eq!(
            store.prune(t0() + 121 * DAY).unwrap(),
            vec![first.id.clone()]
        );
        assert!(!first.path.exists());
        assert_eq!(KeyStore::open(dir.path()).unwrap().keys().len(), 1);
    }

    #[test]
    fn current_key_past_use_until_is_overdue() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::init(dir.path(), policy(), t0()).unwrap();
        let key = store.current(t0()).unwrap();
        assert_eq!(store.status(key, t0() + DAY), KeyStatus::Current);
        assert_eq!(store.status(key, t0() + 31 * DAY), KeyStatus::Overdue);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_readable_by_others_makes_open_fail_with_a_chmod_hint() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::init(dir.path(), policy(), t0()).unwrap();
        let path = store.current(t0()).unwrap().path.clone();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_tampered_key_file_is_refused_without_showing_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::init(dir.path(), policy(), t0()).unwrap();
        let path = store.current(t0()).unwrap().path.clone();
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("id = \"", "id = \"zz");
        fs::write(&path, &text).unwrap();
        let err = KeyStore::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
        let secret = text.lines().find(|l| l.starts_with("secret")).unwrap();
        assert!(!err.contains(&secret[10..30]));
    }
}
