//! Pseudonymisation key material: loaded from a file or an environment variable, or created
//! on first use. Key files must not be readable by group or others.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Environment variable holding the key itself, as 64 hex digits.
pub const KEY_ENV: &str = "REDACTD_KEY";
/// Environment variable naming the key file.
pub const KEY_FILE_ENV: &str = "REDACTD_KEY_FILE";

/// A 256-bit pseudonymisation key. `Debug` shows only its public id.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id())
    }
}

/// Why a key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file or variable does not hold 64 hex digits.
    #[error("{origin}: a key must be 64 hex digits (32 bytes)")]
    Malformed {
        /// Where the key came from (a path or the variable's name).
        origin: String,
    },
    /// The key file is readable by group or others.
    #[error("key file {path} has mode {mode:03o}: it must not be readable by group or others (chmod 600 {path})")]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl Key {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    /// The raw key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The short public id of the key: the first 4 hex digits of SHA-256 over it. Tokens
    /// carry it, so records stay interpretable after a rotation.
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..2])
    }

    /// Parses 64 hex digits (surrounding whitespace allowed).
    pub fn from_hex(text: &str, origin: &str) -> Result<Self, KeyError> {
        let malformed = || KeyError::Malformed {
            origin: origin.to_string(),
        };
        let bytes = hex::decode(text.trim()).map_err(|_| malformed())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed())?;
        Ok(Key(bytes))
    }

    /// Reads a key file, refusing one that group or others can read. The file holds the
    /// 64 hex digits, or is a key store record (its `secret = "…"` line is used).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        check_private(path)?;
        let text = fs::read_to_string(path).map_err(io)?;
        let secret = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("secret"))
            .and_then(|rest| rest.trim().strip_prefix('='))
            .map(|v| v.trim().trim_matches('"'))
            .unwrap_or(&text);
        Key::from_hex(secret, &path.display().to_string())
    }

    /// Generates a fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).expect("the operating system's random source works");
        Key(bytes)
    }

    /// Loads the key at `path`, or creates it (mode 0600, parent directories 0700) when it
    /// does not exist yet. Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        if path.exists() {
            return Ok((Key::from_file(path)?, false));
        }
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(io)?;
        }
        let key = Key::generate();
        let mut file = open_private(path).map_err(io)?;
        writeln!(file, "{}", hex::encode(key.0)).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok((key, true))
    }

    /// The default key file: `$XDG_CONFIG_HOME/redactd/pseudonym.key`, else
    /// `$HOME/.config/redactd/pseudonym.key`, else `./redactd-pseudonym.key`.
    pub fn default_path() -> PathBuf {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            });
        match config {
            Some(dir) => dir.join("redactd").join("pseudonym.key"),
            None => PathBuf::from("redactd-pseudonym.key"),
        }
    }
}

#[cfg(unix)]
pub(super) fn check_private(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_private(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(unix)]
pub(super) fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
pub(super) fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_file_is_private_and_reloads_to_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/pseudonym.key");
        let (key, created) = Key::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (again, created) = Key::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(key.bytes(), again.bytes());
    }

    #[cfg(unix)]
    #[test]
    fn key_readable_by_others_is_refused_with_a_chmod_hint() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        fs::write(&path, "00".repeat(32)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Key::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn malformed_key_is_an_error_that_does_not_echo_the_key() {
        let err = Key::from_hex("secret-material", "REDACTD_KEY")
            .unwrap_err()
            .to_string();
        assert!(err.contains("64 hex digits"));
        assert!(!err.contains("secret-material"));
    }
}
