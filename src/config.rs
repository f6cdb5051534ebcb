//! The configuration file (`redactd.toml`): keys, GeoIP databases, extra rule files and
//! purpose profiles. Parsed into a raw form (serde, unknown keys rejected) and checked into
//! [`Config`]; every error names the file, line and column.
//!
//! The shipped default is `config/redactd.toml`, built into the binary and used when no
//! `-c FILE` is given.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::format::json::path_hash;
use crate::minimise::profile::{AgentPolicy, FieldKind, IpPolicy, Profile, TimePolicy, UserPolicy};
use crate::minimise::uri::{PathPolicy, QueryPolicy, ReferrerPolicy, UriPolicy};
use crate::pseudo::keystore::KeyPolicy;

mod shipping;

pub use shipping::{InputConfig, InputKind, ProxyListen, SinkConfig, SinkKind, SyslogListen};
use shipping::{RawInput, RawSink};

/// The shipped default configuration.
pub const DEFAULT_CONFIG: &str = include_str!("../config/redactd.toml");

/// A configuration error, pointing at file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the file could not be read).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where the key store lives and its rotation policy.
#[derive(Debug, Clone)]
pub struct KeysConfig {
    /// The key directory.
    pub dir: PathBuf,
    /// Rotation period and retention.
    pub policy: KeyPolicy,
}

/// Paths of the GeoIP databases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoPaths {
    /// Country database.
    pub country: Option<PathBuf>,
    /// City database (also gives the country).
    pub city: Option<PathBuf>,
    /// ASN database.
    pub asn: Option<PathBuf>,
}

impl GeoPaths {
    /// Whether any database is configured.
    pub fn any(&self) -> bool {
        self.country.is_some() || self.city.is_some() || self.asn.is_some()
    }
}

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The key store, if configured.
    pub keys: Option<KeysConfig>,
    /// GeoIP databases.
    pub geoip: GeoPaths,
    /// Extra rule files (resolved against the config file's directory).
    pub rule_files: Vec<PathBuf>,
    /// Whether the shipped rules load.
    pub shipped_rules: bool,
    /// Purpose profiles, by name.
    pub profiles: BTreeMap<String, Profile>,
    /// `[[input]]` sections of `redactd run`, in file order.
    pub inputs: Vec<InputConfig>,
    /// `[[sink]]` sections of `redactd run`, in file order.
    pub sinks: Vec<SinkConfig>,
    /// The file the configuration came from.
    file: String,
    /// Line and column of the values that name files or profiles, by key (`keys.dir`,
    /// `geoip.country`, `rules.files.0`, `profile.NAME`), for [`Config::error_at`].
    positions: BTreeMap<String, (usize, usize)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    keys: Option<RawKeys>,
    geoip: Option<RawGeo>,
    rules: Option<RawRules>,
    #[serde(default)]
    profile: BTreeMap<String, Spanned<RawProfile>>,
    #[serde(default)]
    input: Vec<RawInput>,
    #[serde(default)]
    sink: Vec<RawSink>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    dir: Spanned<String>,
    rotate_days: Option<Spanned<u32>>,
    retain_days: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGeo {
    country: Option<Spanned<String>>,
    city: Option<Spanned<String>>,
    asn: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    #[serde(default)]
    files: Vec<Spanned<String>>,
    shipped: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    purpose: String,
    lawful_basis: String,
    retention_days: u32,
    client_ip: Option<Spanned<String>>,
    ipv4_prefix: Option<Spanned<u8>>,
    ipv6_prefix: Option<Spanned<u8>>,
    user: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    #[serde(default)]
    query_allow: Vec<String>,
    referrer: Option<Spanned<String>>,
    #[serde(default)]
    own_hosts: Vec<String>,
    time: Option<Spanned<String>>,
    #[serde(default)]
    headers: Vec<String>,
    json: Option<RawJson>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawJson {
    #[serde(default)]
    client_ip: Vec<String>,
    #[serde(default)]
    user: Vec<String>,
    #[serde(default)]
    user_agent: Vec<String>,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default)]
    referrer: Vec<String>,
    #[serde(default)]
    time: Vec<String>,
}

type Problem = (std::ops::Range<usize>, String);

impl Config {
    /// The shipped default configuration.
    pub fn shipped() -> Self {
        Config::parse("config/redactd.toml (built in)", DEFAULT_CONFIG, None)
            .expect("the shipped config is valid")
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&file, &text, path.parent())
    }

    /// Checks configuration text; `base` resolves relative paths (the file's directory).
    pub fn parse(file: &str, text: &str, base: Option<&Path>) -> Result<Self, ConfigError> {
        let here = |span: std::ops::Range<usize>, message: String| {
            let (line, column) = line_column(text, span.start);
            ConfigError {
                file: file.to_string(),
                line,
                column,
                message,
            }
        };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| here(e.span().unwrap_or(0..0), e.message().to_string()))?;
        let mut positions = BTreeMap::new();
        let mut at = |key: String, span: std::ops::Range<usize>| {
            positions.insert(key, line_column(text, span.start));
        };
        let resolve = |p: &str| match base {
            Some(b) if Path::new(p).is_relative() => b.join(p),
            _ => PathBuf::from(p),
        };
        let keys = match raw.keys {
            Some(k) => {
                let days =
                    |v: Option<Spanned<u32>>, default: u32| -> Result<Duration, ConfigError> {
                        match v {
                            Some(d) if *d.get_ref() == 0 => {
                                Err(here(d.span(), "must be at least 1 day".into()))
                            }
                            Some(d) => Ok(Duration::from_secs(u64::from(*d.get_ref()) * 86_400)),
                            None => Ok(Duration::from_secs(u64::from(default) * 86_400)),
                        }
                    };
                at("keys.dir".into(), k.dir.span());
                Some(KeysConfig {
                    dir: resolve(k.dir.get_ref()),
                    policy: KeyPolicy {
                        rotate_after: days(k.rotate_days, 30)?,
                        retain_for: days(k.retain_days, 90)?,
                    },
                })
            }
            None => None,
        };
        let mut geo_path = |key: &str, v: Option<Spanned<String>>| {
            v.map(|v| {
                at(format!("geoip.{key}"), v.span());
                resolve(v.get_ref())
            })
        };
        let geoip = match raw.geoip {
            Some(g) => GeoPaths {
                country: geo_path("country", g.country),
                city: geo_path("city", g.city),
                asn: geo_path("asn", g.asn),
            },
            None => GeoPaths::default(),
        };
        let (rule_files, shipped_rules) = match raw.rules {
            Some(r) => (
                r.files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        at(format!("rules.files.{i}"), f.span());
                        resolve(f.get_ref())
                    })
                    .collect(),
                r.shipped.unwrap_or(true),
            ),
            None => (Vec::new(), true),
        };
        let mut profiles = BTreeMap::new();
        for (name, raw) in raw.profile {
            at(format!("profile.{name}"), raw.span());
            let profile = build_profile(&name, raw.into_inner())
                .map_err(|(span, m)| here(span, format!("profile `{name}`: {m}")))?;
            profiles.insert(name, profile);
        }
        let sinks = shipping::build_sinks(raw.sink, &profiles, &resolve)
            .map_err(|(span, m)| here(span, m))?;
        let inputs = shipping::build_inputs(raw.input, &sinks, &resolve)
            .map_err(|(span, m)| here(span, m))?;
        Ok(Config {
            keys,
            geoip,
            rule_files,
            shipped_rules,
            profiles,
            inputs,
            sinks,
            file: file.to_string(),
            positions,
        })
    }

    /// An error about the value at `key` (`keys.dir`, `geoip.country`, `geoip.city`,
    /// `geoip.asn`, `rules.files.N`, `profile.NAME`), pointing at its line and column in the
    /// configuration file (line 0 when the key is not in the file).
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.positions.get(key).copied().unwrap_or((0, 0));
        ConfigError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// The profile called `name`, or an error listing the known ones.
    pub fn profile(&self, name: &str) -> Result<&Profile, String> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            format!(
                "no profile `{name}` in the configuration; known: {}",
                known.join(", ")
            )
        })
    }
}

fn choice<T: Copy>(
    value: &Option<Spanned<String>>,
    default: T,
    options: &[(&str, T)],
) -> Result<T, Problem> {
    let Some(v) = value else { return Ok(default) };
    options
        .iter()
        .find(|(name, _)| *name == v.get_ref())
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            (
                v.span(),
                format!("`{}` is not one of: {}", v.get_ref(), names.join(", ")),
            )
        })
}

fn build_profile(name: &str, raw: RawProfile) -> Result<Profile, Problem> {
    let prefix = |p: &Option<Spanned<u8>>, max: u8, default: u8| match p {
        Some(v) if *v.get_ref() > max => Err((v.span(), format!("a prefix is at most {max} bits"))),
        Some(v) => Ok(*v.get_ref()),
        None => Ok(default),
    };
    let v4 = prefix(&raw.ipv4_prefix, 32, 24)?;
    let v6 = prefix(&raw.ipv6_prefix, 128, 48)?;
    let client_ip = choice(
        &raw.client_ip,
        IpPolicy::Pseudonymise,
        &[
            ("keep", IpPolicy::Keep),
            ("truncate", IpPolicy::Truncate { v4, v6 }),
            ("pseudonymise", IpPolicy::Pseudonymise),
            ("hmac", IpPolicy::Pseudonymise),
            ("ipcrypt", IpPolicy::IpCrypt),
            ("ipcrypt-pfx", IpPolicy::IpCryptPfx),
            ("generalise", IpPolicy::Generalise),
            ("drop", IpPolicy::Drop),
        ],
    )?;
    let user = choice(
        &raw.user,
        UserPolicy::Pseudonymise,
        &[
            ("keep", UserPolicy::Keep),
            ("pseudonymise", UserPolicy::Pseudonymise),
            ("drop", UserPolicy::Drop),
        ],
    )?;
    let user_agent = choice(
        &raw.user_agent,
        AgentPolicy::Keep,
        &[
            ("keep", AgentPolicy::Keep),
            ("generalise", AgentPolicy::Generalise),
            ("pseudonymise", AgentPolicy::Pseudonymise),
            ("drop", AgentPolicy::Drop),
        ],
    )?;
    let path = choice(
        &raw.path,
        PathPolicy::Scan,
        &[
            ("keep", PathPolicy::Keep),
            ("scan", PathPolicy::Scan),
            ("template", PathPolicy::Template),
            ("drop", PathPolicy::Drop),
        ],
    )?;
    let query = choice(
        &raw.query,
        QueryPolicy::Scan,
        &[
            ("keep", QueryPolicy::Keep),
            ("scan", QueryPolicy::Scan),
            ("allowlist", QueryPolicy::Allowlist),
            ("drop", QueryPolicy::Drop),
        ],
    )?;
    let referrer = choice(
        &raw.referrer,
        ReferrerPolicy::Origin,
        &[
            ("keep", ReferrerPolicy::Keep),
            ("scan", ReferrerPolicy::Scan),
            ("origin", ReferrerPolicy::Origin),
            ("drop", ReferrerPolicy::Drop),
        ],
    )?;
    let time = choice(
        &raw.time,
        TimePolicy::Keep,
        &[
            ("keep", TimePolicy::Keep),
            ("minute", TimePolicy::Minute),
            ("hour", TimePolicy::Hour),
        ],
    )?;
    let mut headers: Vec<String> = raw.headers.iter().map(|h| h.to_ascii_lowercase()).collect();
    headers.retain(|h| {
        !matches!(
            h.as_str(),
            "cookie" | "set-cookie" | "authorization" | "proxy-authorization"
        )
    });
    let json = raw.json.unwrap_or_default();
    let mut json_fields = Vec::new();
    for (paths, kind) in [
        (&json.client_ip, FieldKind::ClientIp),
        (&json.user, FieldKind::User),
        (&json.user_agent, FieldKind::UserAgent),
        (&json.target, FieldKind::Target),
        (&json.referrer, FieldKind::Referrer),
        (&json.time, FieldKind::Time),
    ] {
        json_fields.extend(paths.iter().map(|p| (path_hash(p), kind)));
    }
    Ok(Profile {
        name: name.to_string(),
        purpose: raw.purpose,
        lawful_basis: raw.lawful_basis,
        retention_days: raw.retention_days,
        client_ip,
        user,
        user_agent,
        uri: UriPolicy {
            path,
            query,
            allow: raw.query_allow,
            referrer,
            own_hosts: raw
                .own_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        },
        time,
        headers,
        json_fields,
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_has_security_and_analytics_profiles_from_the_policy() {
        let config = Config::shipped();
        let security = config.profile("security").unwrap();
        assert_eq!(security.client_ip, IpPolicy::IpCryptPfx);
        assert_eq!(security.user_agent, AgentPolicy::Keep);
        assert_eq!(security.uri.path, PathPolicy::Scan);
        assert!(security.lawful_basis.contains("Legitimate interests"));
        let analytics = config.profile("analytics").unwrap();
        assert_eq!(analytics.client_ip, IpPolicy::Generalise);
        assert_eq!(analytics.user_agent, AgentPolicy::Generalise);
        assert_eq!(analytics.uri.path, PathPolicy::Template);
        assert_eq!(analytics.uri.query, QueryPolicy::Drop);
        assert_eq!(
            analytics.json_field(path_hash("http.user_agent")),
            Some(FieldKind::UserAgent)
        );
        assert!(config.keys.is_none() && !config.geoip.any());
    }

    #[test]
    fn bad_policy_value_points_at_line_and_column_and_lists_the_choices() {
        let text = "[profile.x]\npurpose = \"p\"\nlawful_basis = \"b\"\nretention_days = 1\nclient_ip = \"hash\"\n";
        let err = Config::parse("my.toml", text, None).unwrap_err();
        assert_eq!((err.line, err.column), (5, 13), "{err}");
        assert!(
            err.message.contains("profile `x`") && err.message.contains("ipcrypt-pfx"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_missing_purpose_are_errors() {
        assert!(
            Config::parse("c", "[keys]\ndir = \"k\"\nrotate_dayz = 3\n", None)
                .unwrap_err()
                .message
                .contains("rotate_dayz")
        );
        let err = Config::parse(
            "c",
            "[profile.x]\nlawful_basis = \"b\"\nretention_days = 1\n",
            None,
        )
        .unwrap_err();
        assert!(err.message.contains("purpose"), "{err}");
    }

    #[test]
    fn relative_paths_resolve_against_the_config_directory() {
        let text = "[keys]\ndir = \"keys\"\n[geoip]\nasn = \"/abs/asn.mmdb\"\ncountry = \"geo/c.mmdb\"\n[rules]\nfiles = [\"r.toml\"]\n";
        let c = Config::parse("c", text, Some(Path::new("/etc/redactd"))).unwrap();
        assert_eq!(
            c.keys.as_ref().unwrap().dir,
            PathBuf::from("/etc/redactd/keys")
        );
        assert_eq!(
            c.geoip.country,
            Some(PathBuf::from("/etc/redactd/geo/c.mmdb"))
        );
        assert_eq!(c.geoip.asn, Some(PathBuf::from("/abs/asn.mmdb")));
        assert_eq!(c.rule_files, vec![PathBuf::from("/etc/redactd/r.toml")]);
        let err = c.error_at("geoip.country", "cannot open");
        assert_eq!((err.line, err.column), (5, 11), "{err}");
        assert_eq!(c.error_at("rules.files.0", "x").line, 7);
        assert_eq!(c.error_at("keys.dir", "x").to_string(), "c:2:7: x");
        assert_eq!(c.error_at("geoip.city", "x").to_string(), "c: x");
    }

    #[test]
    fn cookie_and_authorization_headers_are_never_allowlisted() {
        let text = "[profile.x]\npurpose = \"p\"\nlawful_basis = \"b\"\nretention_days = 1\nheaders = [\"Accept-Language\", \"Cookie\", \"authorization\"]\n";
        let c = Config::parse("c", text, None).unwrap();
        assert_eq!(c.profiles["x"].headers, vec!["accept-language".to_string()]);
    }

    #[test]
    fn zero_day_rotation_is_refused() {
        let err = Config::parse("c", "[keys]\ndir = \"k\"\nrotate_days = 0\n", None).unwrap_err();
        assert_eq!(err.line, 3);
    }
}
