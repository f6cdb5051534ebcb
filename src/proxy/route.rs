//! Routes: which upstream a request goes to, chosen by host and path prefix, each with its
//! own response-body DLP setting.
//!
//! Choice, as nginx's `server_name` then `location` prefix: among the routes whose host
//! matches (an exact name beats a `*.suffix` wildcard, which beats a route with no host),
//! the one with the longest matching path prefix; on a tie, the one listed first. A request
//! no route takes gets a 404 with a record (`error: "no_route"`).
//!
//! Paths are compared in a normalised form (percent-encoded unreserved characters decoded,
//! dot segments resolved, repeated slashes merged), so `/%62illing/../billing//x` cannot
//! slip past a DLP route on `/billing/` to an upstream that normalises it back; the request
//! itself is forwarded as sent.

use std::borrow::Cow;
use std::sync::Arc;

use crate::redact::Redactor;

use super::upstream::{Connector, Upstream};

/// What DLP does with a response body that has a `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressedBodies {
    /// Decode gzip, deflate and br, scan, and encode again with the same coding. The
    /// upstream is asked only for those codings. Others pass unscanned and are counted.
    #[default]
    Decode,
    /// Pass every compressed body unchanged and unscanned, and count it.
    Pass,
}

/// Which requests a route takes and where they go.
#[derive(Debug, Clone)]
pub struct Route {
    /// Its name, written into each record's `route` member.
    pub name: String,
    /// Host the route takes (`api.example.com`, or `*.example.com` for every subdomain);
    /// `None`: any host. Compared without port, case-insensitively.
    pub host: Option<String>,
    /// Path prefix the route takes, starting with `/`. `/api` and `/api/` both take `/api`
    /// and `/api/…`, not `/apix`.
    pub path_prefix: String,
    /// `http://host:port` or `https://host:port`.
    pub upstream: http::Uri,
    /// Response-body DLP on this route.
    pub dlp: bool,
    /// What DLP does with compressed bodies on this route.
    pub compressed: CompressedBodies,
}

impl Route {
    /// A route named `default` taking every request to `upstream`, DLP off.
    pub fn catch_all(upstream: http::Uri) -> Route {
        Route {
            name: "default".into(),
            host: None,
            path_prefix: "/".into(),
            upstream,
            dlp: false,
            compressed: CompressedBodies::default(),
        }
    }
}

/// `name → upstream` per route, `, `-separated, DLP marked: for start-up messages.
pub fn describe(routes: &[Route]) -> String {
    routes
        .iter()
        .map(|r| {
            let dlp = if r.dlp { " (DLP)" } else { "" };
            format!("{} → {}{dlp}", r.name, r.upstream)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::str::FromStr for Route {
    type Err = String;

    /// The command-line form `[HOST]/PATH=URL`: `/api/=http://127.0.0.1:4000`,
    /// `shop.example.com/=http://127.0.0.1:5000`. The route is named `HOST/PATH`.
    fn from_str(s: &str) -> Result<Route, String> {
        let (matcher, upstream) = s
            .split_once('=')
            .ok_or("expected [HOST]/PATH=URL, e.g. /api/=http://127.0.0.1:4000")?;
        let slash = matcher
            .find('/')
            .ok_or("the part before `=` needs a path starting with `/` (e.g. `/` or `/api/`)")?;
        let (host, path) = matcher.split_at(slash);
        let upstream: http::Uri = upstream
            .parse()
            .map_err(|e| format!("`{upstream}` is not a URL: {e}"))?;
        Ok(Route {
            name: matcher.to_string(),
            host: (!host.is_empty()).then(|| host.to_string()),
            path_prefix: path.to_string(),
            upstream,
            dlp: false,
            compressed: CompressedBodies::default(),
        })
    }
}

/// Why a route cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The upstream URI is not `http(s)://host[:port]`.
    #[error("route `{route}`: upstream `{upstream}`: expected http://host:port or https://host:port (no path, no credentials)")]
    Upstream {
        /// The route's name.
        route: String,
        /// The URI given.
        upstream: String,
    },
    /// The path prefix does not start with `/`.
    #[error("route `{0}`: the path prefix must start with `/`")]
    Path(String),
    /// DLP is on but no DLP redactor was given.
    #[error("route `{0}`: DLP is on but no DLP rules were loaded")]
    NoDlpRules(String),
    /// No route at all.
    #[error("no route: give an upstream")]
    Empty,
}

/// A route ready to serve: the upstream split up, the DLP redactor attached.
pub(crate) struct Target {
    pub(crate) name: Arc<str>,
    /// The upstream and its pool of connections (shared by routes to the same one).
    pub(crate) upstream: Arc<Upstream>,
    /// The DLP redactor when DLP is on for this route.
    pub(crate) dlp: Option<Arc<Redactor>>,
    pub(crate) compressed: CompressedBodies,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `.example.com`: any name ending so (not `example.com` itself).
    Suffix(String),
}

impl HostMatch {
    fn parse(host: Option<&str>) -> HostMatch {
        match host.map(|h| h.trim_end_matches('.').to_ascii_lowercase()) {
            None => HostMatch::Any,
            Some(h) if h.is_empty() || h == "*" => HostMatch::Any,
            Some(h) => match h.strip_prefix('*') {
                Some(suffix) => HostMatch::Suffix(suffix.to_string()),
                None => HostMatch::Exact(h),
            },
        }
    }

    /// How specific a match is (higher wins), or `None` when `host` does not match.
    fn rank(&self, host: &str) -> Option<u8> {
        match self {
            HostMatch::Any => Some(0),
            HostMatch::Suffix(s) => {
                (host.len() > s.len() && host.ends_with(s.as_str())).then_some(1)
            }
            HostMatch::Exact(h) => (host == h).then_some(2),
        }
    }
}

/// The routes of one listener, in the order given.
pub(crate) struct RouteTable {
    routes: Vec<(HostMatch, String, Target)>,
}

impl RouteTable {
    /// Checks `routes`, attaches `dlp` to those with DLP on, and gives each distinct
    /// upstream one pool of connections made by `connector`.
    pub(crate) fn new(
        routes: Vec<Route>,
        dlp: Option<&Arc<Redactor>>,
        connector: &Connector,
    ) -> Result<Self, RouteError> {
        if routes.is_empty() {
            return Err(RouteError::Empty);
        }
        let mut out = Vec::with_capacity(routes.len());
        let mut upstreams: Vec<Arc<Upstream>> = Vec::new();
        for r in routes {
            let bad_upstream = || RouteError::Upstream {
                route: r.name.clone(),
                upstream: without_credentials(&r.upstream),
            };
            let scheme = r.upstream.scheme().cloned().ok_or_else(bad_upstream)?;
            if scheme != http::uri::Scheme::HTTP && scheme != http::uri::Scheme::HTTPS {
                return Err(bad_upstream());
            }
            let authority = r.upstream.authority().cloned().ok_or_else(bad_upstream)?;
            // Credentials in the URL would be printed at start-up and sent as a host name.
            if authority.as_str().contains('@') {
                return Err(bad_upstream());
            }
            if !matches!(r.upstream.path(), "" | "/") || r.upstream.query().is_some() {
                return Err(bad_upstream());
            }
            if !r.path_prefix.starts_with('/') {
                return Err(RouteError::Path(r.name));
            }
            let dlp = match (r.dlp, dlp) {
                (false, _) => None,
                (true, Some(d)) => Some(d.clone()),
                (true, None) => return Err(RouteError::NoDlpRules(r.name)),
            };
            let prefix = normalise_path(&r.path_prefix).into_owned();
            let upstream = match upstreams
                .iter()
                .find(|u| *u.scheme() == scheme && *u.authority() == authority)
            {
                Some(u) => u.clone(),
                None => {
                    let u = Upstream::new(scheme, authority, connector.clone());
                    upstreams.push(u.clone());
                    u
                }
            };
            out.push((
                HostMatch::parse(r.host.as_deref()),
                prefix,
                Target {
                    name: r.name.into(),
                    upstream,
                    dlp,
                    compressed: r.compressed,
                },
            ));
        }
        Ok(RouteTable { routes: out })
    }

    /// The route for a request to `host` (a `Host` header or `:authority`) and `path`.
    pub(crate) fn select(&self, host: &str, path: &str) -> Option<&Target> {
        if let [(HostMatch::Any, prefix, target)] = &self.routes[..] {
            if prefix == "/" {
                // One catch-all route (the quick start): nothing to compare.
                return Some(target);
            }
        }
        let host = host_name(host);
        let path = normalise_path(path);
        let mut best: Option<((u8, usize), &Target)> = None;
        for (host_match, prefix, target) in &self.routes {
            let Some(rank) = host_match.rank(&host) else {
                continue;
            };
            if !prefix_matches(prefix, &path) {
                continue;
            }
            let score = (rank, prefix.len());
            if best.as_ref().map_or(true, |(b, _)| score > *b) {
                best = Some((score, target));
            }
        }
        best.map(|(_, t)| t)
    }
}

/// `uri` as text with any `user:password@` replaced by `…@`, for error messages.
fn without_credentials(uri: &http::Uri) -> String {
    let text = uri.to_string();
    match (uri.authority(), text.find("://")) {
        (Some(a), Some(p)) if a.as_str().contains('@') => {
            let host = a.as_str().rsplit('@').next().unwrap_or("");
            let rest = &text[p + 3 + a.as_str().len()..];
            format!("{}://…@{host}{rest}", &text[..p])
        }
        _ => text,
    }
}

/// The host name of a `Host` value: port and trailing dot removed, lower case (borrowed
/// when it already is: the usual case, once per request).
fn host_name(host: &str) -> Cow<'_, str> {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let name = name.trim_end_matches('.');
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// `path` starts with `prefix` at a segment boundary. A prefix ending in `/` also takes
/// the path without it (`/billing/` takes `/billing`, which the upstream likely serves as
/// the same place).
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let bare = prefix.strip_suffix('/').unwrap_or(prefix);
    path.starts_with(bare) && (path.len() == bare.len() || path.as_bytes()[bare.len()] == b'/')
}

/// RFC 3986 normalisation for comparing paths: `%XX` of unreserved characters decoded,
/// other escapes in upper case (`%2F` is not a slash), a stray `%` escaped, repeated slashes
/// merged, `.` and `..` segments resolved, rooted at `/` (`*` of `OPTIONS *` becomes `/*`).
/// Normalising twice gives the same as once.
pub fn normalise_path(path: &str) -> Cow<'_, str> {
    let b = path.as_bytes();
    let plain = path.starts_with('/')
        && !b.contains(&b'%')
        && !path.contains("//")
        && !path.split('/').any(|s| s == "." || s == "..");
    if plain {
        return Cow::Borrowed(path);
    }
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |at: usize| b.get(at).and_then(|&c| (c as char).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    let v = (high * 16 + low) as u8;
                    if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                        decoded.push(v as char);
                    } else {
                        // Other escapes stay, in upper case.
                        decoded.push('%');
                        decoded.push_str(&path[i + 1..i + 3].to_ascii_uppercase());
                    }
                    i += 3;
                }
                // A `%` that starts no escape is itself escaped, so a second pass cannot
                // read it together with what the first decoded (`%%33` → `%253`, not `%3`).
                _ => {
                    decoded.push_str("%25");
                    i += 1;
                }
            }
            continue;
        }
        // Multi-byte UTF-8 passes byte by byte via its char.
        let ch = path[i..].chars().next().expect("i is on a char boundary");
        decoded.push(ch);
        i += ch.len_utf8();
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let ends_in_slash =
        decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    if out.is_empty() || ends_in_slash {
        out.push('/');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn route(name: &str, host: Option<&str>, prefix: &str) -> Route {
        Route {
            name: name.into(),
            host: host.map(str::to_string),
            path_prefix: prefix.into(),
            upstream: "http://127.0.0.1:1".parse().unwrap(),
            dlp: false,
            compressed: CompressedBodies::Decode,
        }
    }

    fn connector() -> Connector {
        let tls = crate::proxy::tls::client_config(None).unwrap();
        Connector::new(tls, Duration::from_secs(1), Duration::from_secs(1))
    }

    fn table(routes: Vec<Route>) -> RouteTable {
        RouteTable::new(routes, None, &connector()).unwrap()
    }

    fn chosen<'a>(t: &'a RouteTable, host: &str, path: &str) -> Option<&'a str> {
        t.select(host, path).map(|t| &*t.name)
    }

    #[test]
    fn longest_path_prefix_wins_at_segment_boundaries() {
        let t = table(vec![
            route("root", None, "/"),
            route("api", None, "/api"),
            route("api-v2", None, "/api/v2/"),
        ]);
        assert_eq!(chosen(&t, "x", "/"), Some("root"));
        assert_eq!(chosen(&t, "x", "/api"), Some("api"));
        assert_eq!(chosen(&t, "x", "/api/users"), Some("api"));
        assert_eq!(chosen(&t, "x", "/apix"), Some("root"));
        assert_eq!(chosen(&t, "x", "/api/v2/orders"), Some("api-v2"));
        assert_eq!(chosen(&t, "x", "/api/v2"), Some("api-v2"));
        assert_eq!(chosen(&t, "x", "/api/v2x"), Some("api"));
    }

    #[test]
    fn exact_host_beats_wildcard_beats_any_and_ports_and_case_are_ignored() {
        let t = table(vec![
            route("any", None, "/"),
            route("wild", Some("*.example.com"), "/"),
            route("shop", Some("Shop.Example.com"), "/"),
        ]);
        assert_eq!(chosen(&t, "shop.example.com:8443", "/x"), Some("shop"));
        assert_eq!(chosen(&t, "SHOP.example.com.", "/x"), Some("shop"));
        assert_eq!(chosen(&t, "api.example.com", "/x"), Some("wild"));
        assert_eq!(chosen(&t, "example.com", "/x"), Some("any"));
        assert_eq!(chosen(&t, "[::1]:8080", "/x"), Some("any"));
    }

    #[test]
    fn a_request_no_route_takes_gets_none() {
        let t = table(vec![route("api", Some("api.example.com"), "/v1/")]);
        assert_eq!(chosen(&t, "api.example.com", "/v2/x"), None);
        assert_eq!(chosen(&t, "www.example.com", "/v1/x"), None);
    }

    #[test]
    fn encoded_and_dotted_paths_cannot_dodge_a_route() {
        let t = table(vec![
            route("root", None, "/"),
            route("billing", None, "/billing/"),
        ]);
        for path in [
            "/billing/invoice",
            "/%62illing/invoice",
            "/%62%69%6C%6C%69%6E%67/invoice",
            "//billing//invoice",
            "/x/../billing/invoice",
            "/./billing/./invoice",
            "/billing",
        ] {
            assert_eq!(chosen(&t, "h", path), Some("billing"), "{path}");
        }
        assert_eq!(chosen(&t, "h", "/billing%2Finvoice"), Some("root"));
        assert_eq!(chosen(&t, "h", "/billingx"), Some("root"));
    }

    #[test]
    fn normalised_paths_keep_reserved_escapes_and_trailing_slashes() {
        assert_eq!(normalise_path("/a/b"), "/a/b");
        assert_eq!(normalise_path("/a/%2f/b/"), "/a/%2F/b/");
        assert_eq!(normalise_path("%%3333BB%BB"), "/%25333BB%BB");
        assert_eq!(normalise_path("/a/.."), "/");
        assert_eq!(normalise_path("/../../etc"), "/etc");
        assert_eq!(normalise_path("/%7euser/%"), "/~user/%25");
        assert_eq!(normalise_path("/caf%C3%A9/é"), "/caf%C3%A9/é");
        assert_eq!(normalise_path("*"), "/*");
        assert_eq!(normalise_path(""), "/");
    }

    use proptest::prelude::*;

    /// `s` with some unreserved characters percent-encoded (upper or lower hex).
    fn encode_some(s: &str, mask: &[bool]) -> String {
        s.bytes()
            .zip(mask.iter().cycle())
            .map(|(b, &enc)| {
                if enc && b != b'/' {
                    if b % 2 == 0 {
                        format!("%{b:02X}")
                    } else {
                        format!("%{b:02x}")
                    }
                } else {
                    (b as char).to_string()
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn normalised_paths_are_rooted_and_normalising_again_changes_nothing(
            path in "(/[a-zA-Z0-9%._~-]{0,6}){0,8}/?",
        ) {
            let once = normalise_path(&path).into_owned();
            prop_assert!(once.starts_with('/'));
            prop_assert_eq!(normalise_path(&once).into_owned(), once);
        }

        /// Encoding, dot segments and doubled slashes never move a request off its route.
        #[test]
        fn disguised_paths_take_the_route_of_the_plain_path(
            segments in proptest::collection::vec("[a-z0-9._~-]{1,6}", 0..4),
            mask in proptest::collection::vec(any::<bool>(), 1..8),
            detour in 0usize..4,
        ) {
            let t = table(vec![route("root", None, "/"), route("billing", None, "/billing/")]);
            let segments: Vec<&String> = segments.iter().filter(|s| *s != "." && *s != "..").collect();
            let mut plain = "/billing".to_string();
            for s in &segments {
                plain.push('/');
                plain.push_str(s);
            }
            let disguised = match detour {
                0 => encode_some(&plain, &mask),
                1 => format!("/x/..{}", encode_some(&plain, &mask)),
                2 => plain.replacen('/', "//", 1),
                _ => format!("/.{plain}"),
            };
            prop_assert_eq!(chosen(&t, "h", &disguised), Some("billing"), "{}", disguised);
        }
    }

    #[test]
    fn command_line_routes_name_host_path_and_upstream() {
        let r: Route = "shop.example.com/cart/=https://10.0.0.5:8443"
            .parse()
            .unwrap();
        assert_eq!(r.name, "shop.example.com/cart/");
        assert_eq!(r.host.as_deref(), Some("shop.example.com"));
        assert_eq!(r.path_prefix, "/cart/");
        assert_eq!(r.upstream, "https://10.0.0.5:8443");
        let r: Route = "/=http://127.0.0.1:3000".parse().unwrap();
        assert_eq!((r.host, r.path_prefix.as_str()), (None, "/"));
        assert!("/api".parse::<Route>().is_err());
        assert!("api=http://x".parse::<Route>().is_err());
        assert!("/=not a url".parse::<Route>().is_err());
    }

    #[test]
    fn bad_routes_are_refused_with_their_name() {
        let mut r = route("shop", None, "/");
        r.upstream = "ftp://127.0.0.1:1".parse().unwrap();
        let e = RouteTable::new(vec![r], None, &connector())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`shop`"), "{e}");
        let mut r = route("shop", None, "/");
        r.upstream = "http://127.0.0.1:1/base".parse().unwrap();
        assert!(RouteTable::new(vec![r], None, &connector()).is_err());
        let mut r = route("shop", None, "/");
        r.upstream = "http://user:secret@127.0.0.1:1".parse().unwrap();
        let e = RouteTable::new(vec![r], None, &connector())
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("http://…@127.0.0.1:1") && !e.contains("secret"),
            "{e}"
        );
        assert!(RouteTable::new(vec![route("p", None, "api")], None, &connector()).is_err());
        let mut r = route("pay", None, "/");
        r.dlp = true;
        let e = RouteTable::new(vec![r], None, &connector())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("DLP"), "{e}");
        assert!(RouteTable::new(vec![], None, &connector()).is_err());
    }
}
