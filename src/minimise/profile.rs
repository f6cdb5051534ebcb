//! Purpose profiles: a named set of field policies, with the purpose, lawful basis and
//! retention it serves taken from the privacy policy's usage table.

use super::uri::{PathPolicy, QueryPolicy, ReferrerPolicy, UriPolicy};

/// How a client address is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpPolicy {
    /// As it came (still scanned).
    Keep,
    /// Its network only: the first `v4` / `v6` bits.
    Truncate {
        /// IPv4 prefix length.
        v4: u8,
        /// IPv6 prefix length.
        v6: u8,
    },
    /// A keyed HMAC token `ip:kid:…`, as the shipped `ipv4`/`ipv6` rules make.
    Pseudonymise,
    /// ipcrypt-deterministic: another address, the same for the same input and key.
    IpCrypt,
    /// ipcrypt-pfx: prefix-preserving, so one subnet maps to one pseudonymous subnet.
    IpCryptPfx,
    /// Country and ASN from GeoIP (`GB-AS2856`).
    Generalise,
    /// Removed (`-`).
    Drop,
}

/// How the authenticated user name is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserPolicy {
    /// As it came (still scanned).
    Keep,
    /// A keyed token `user:kid:…`.
    Pseudonymise,
    /// Removed (`-`).
    Drop,
}

/// How a user agent is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentPolicy {
    /// As it came (still scanned).
    Keep,
    /// Browser family and major version, OS family, device class, bot flag.
    Generalise,
    /// A keyed token `ua:kid:…`.
    Pseudonymise,
    /// Removed (`-`).
    Drop,
}

/// How a time is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePolicy {
    /// To the second (or as precise as it came).
    Keep,
    /// Seconds (and fractions) set to zero.
    Minute,
    /// Minutes and seconds set to zero.
    Hour,
}

/// What a field of a structured record is, for JSON member paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// The client address.
    ClientIp,
    /// The authenticated user.
    User,
    /// The user agent.
    UserAgent,
    /// The request target (path and query) or full URL.
    Target,
    /// The referrer.
    Referrer,
    /// The time.
    Time,
}

/// A purpose profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Its name (`security`, `analytics`, …).
    pub name: String,
    /// The purpose, from the policy's usage table.
    pub purpose: String,
    /// The lawful basis, from the same table.
    pub lawful_basis: String,
    /// How long records kept for this purpose may be stored.
    pub retention_days: u32,
    /// Client address policy.
    pub client_ip: IpPolicy,
    /// User name policy.
    pub user: UserPolicy,
    /// User agent policy.
    pub user_agent: AgentPolicy,
    /// Request target and referrer policies.
    pub uri: UriPolicy,
    /// Time policy.
    pub time: TimePolicy,
    /// Request headers the proxy may log (lower case); `cookie`, `set-cookie` and
    /// `authorization` are never logged whatever this says.
    pub headers: Vec<String>,
    /// JSON member paths (as [`crate::format::json::path_hash`]) and what they hold.
    pub json_fields: Vec<(u64, FieldKind)>,
}

impl Profile {
    /// A profile that changes nothing beyond the detectors: what `filter` does without
    /// `--profile`.
    pub fn passthrough() -> Self {
        Profile {
            name: "default".into(),
            purpose: String::new(),
            lawful_basis: String::new(),
            retention_days: 0,
            client_ip: IpPolicy::Pseudonymise,
            user: UserPolicy::Pseudonymise,
            user_agent: AgentPolicy::Keep,
            uri: UriPolicy {
                path: PathPolicy::Scan,
                query: QueryPolicy::Scan,
                allow: Vec::new(),
                referrer: ReferrerPolicy::Scan,
                own_hosts: Vec::new(),
            },
            time: TimePolicy::Keep,
            headers: Vec::new(),
            json_fields: Vec::new(),
        }
    }

    /// What the JSON member at `path` holds, if the profile names it.
    pub fn json_field(&self, path: u64) -> Option<FieldKind> {
        self.json_fields
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, k)| *k)
    }

    /// Whether this profile needs GeoIP databases.
    pub fn needs_geoip(&self) -> bool {
        self.client_ip == IpPolicy::Generalise
    }
}

/// Truncates the time in `text` (an access-log time `10/Oct/2000:13:55:36 -0700` or an
/// ISO 8601 time `2023-10-10T13:55:42.123Z`): the first `HH:MM:SS` found gets its seconds
/// (and any fraction) or minutes and seconds zeroed; other bytes are copied.
pub fn truncate_time(text: &[u8], policy: TimePolicy, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(text);
    if policy == TimePolicy::Keep {
        return;
    }
    let t = &mut out[start..];
    let is_digit = |b: u8| b.is_ascii_digit();
    let Some(h) = (0..t.len().saturating_sub(7)).find(|&i| {
        (i == 0 || !is_digit(t[i - 1]))
            && is_digit(t[i])
            && is_digit(t[i + 1])
            && t[i + 2] == b':'
            && is_digit(t[i + 3])
            && is_digit(t[i + 4])
            && t[i + 5] == b':'
            && is_digit(t[i + 6])
            && is_digit(t[i + 7])
    }) else {
        return;
    };
    let first_zeroed = if policy == TimePolicy::Hour {
        h + 3
    } else {
        h + 6
    };
    let mut i = first_zeroed;
    while i < t.len()
        && (is_digit(t[i]) || (t[i] == b':' && i < h + 8) || (t[i] == b'.' && i == h + 8))
    {
        if is_digit(t[i]) {
            t[i] = b'0';
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, policy: TimePolicy) -> String {
        let mut out = Vec::new();
        truncate_time(text.as_bytes(), policy, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn access_log_time_truncates_to_minute_and_hour_keeping_the_zone() {
        assert_eq!(
            cut("10/Oct/2000:13:55:36 -0700", TimePolicy::Minute),
            "10/Oct/2000:13:55:00 -0700"
        );
        assert_eq!(
            cut("10/Oct/2000:13:55:36 -0700", TimePolicy::Hour),
            "10/Oct/2000:13:00:00 -0700"
        );
        assert_eq!(
            cut("10/Oct/2000:13:55:36 -0700", TimePolicy::Keep),
            "10/Oct/2000:13:55:36 -0700"
        );
    }

    #[test]
    fn iso_time_fractions_are_zeroed_too() {
        assert_eq!(
            cut("2023-10-10T13:55:42.123456Z", TimePolicy::Minute),
            "2023-10-10T13:55:00.000000Z"
        );
        assert_eq!(
            cut("2023-10-10T13:55:42+01:00", TimePolicy::Hour),
            "2023-10-10T13:00:00+01:00"
        );
    }

    #[test]
    fn text_without_a_time_is_copied() {
        assert_eq!(cut("yesterday", TimePolicy::Hour), "yesterday");
    }
}
