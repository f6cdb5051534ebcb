//! User-agent generalisation.
//!
//! The `generalise` policy keeps only what a purpose like "which browsers must we support" needs:
//! the browser family and its major version, the OS family, a coarse device class and whether
//! the client is a bot. Build numbers, device models, locales, URLs and e-mail addresses that
//! user agents carry are dropped.
//!
//! Parsing is done by [`woothee`]: pure Rust, a compiled-in data set of a few hundred entries and
//! a handful of small regexes, so nothing is loaded at start-up and a miss costs a few
//! microseconds. Two things woothee does not give are filled in here from fixed tables, never
//! from free text: crawler versions (`Googlebot/2.1` gives `Googlebot/2`, the family name coming
//! from woothee's data set and only the digits from the user agent) and the names of common HTTP
//! client libraries (`curl`, `python-requests`, `Go-http-client`, ...), which woothee mostly
//! does not know. A client that neither knows is `unknown`: its self-chosen name is not kept,
//! since a custom tool's name can identify its one user.
//!
//! Everything that reaches the output is sanitised again: only `[A-Za-z0-9 ._-]`, at most 40
//! bytes per part, so the result is safe inside a quoted combined-log field.
//!
//! ## Device classes
//!
//! | woothee category | [`DeviceClass`] |
//! | --- | --- |
//! | `pc` | `Desktop` |
//! | `smartphone` on iPad, or on Android without `Mobile` in the agent, or with `Tablet` | `Tablet` |
//! | `smartphone` otherwise, `mobilephone` (feature phones) | `Mobile` |
//! | `crawler` | `Bot` (and `bot` is set) |
//! | `appliance` (consoles, TVs), `misc` (HTTP libraries, feed readers), unknown | `Other` |

use std::fmt;

use rustc_hash::FxHashMap;

/// The longest part (family, major, OS) that is ever written.
const MAX_PART: usize = 40;
/// User agents longer than this are parsed from their first `MAX_PARSE` bytes only.
const MAX_PARSE: usize = 2048;
/// User agents longer than this are not remembered (they would let the cache grow by bytes).
const MAX_CACHED_KEY: usize = 1024;

/// The coarse class of device a user agent runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceClass {
    /// A desktop or laptop computer (woothee `pc`).
    Desktop,
    /// A phone: smartphone or feature phone (woothee `smartphone`, `mobilephone`).
    Mobile,
    /// A tablet: iPad, Android without `Mobile`, or an agent that says `Tablet`.
    Tablet,
    /// A crawler, spider or other robot (woothee `crawler`).
    Bot,
    /// Anything else: consoles, TVs, HTTP libraries, feed readers, unknown.
    Other,
}

impl DeviceClass {
    /// The lower-case name used in the generalised form: `desktop`, `mobile`, `tablet`, `bot`,
    /// `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Bot => "bot",
            DeviceClass::Other => "other",
        }
    }
}

impl fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is kept of a user agent.
///
/// Every string holds only `[A-Za-z0-9 ._-]` and at most 40 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentSummary {
    /// Browser, crawler or client family, e.g. `Chrome`, `Googlebot`, `curl`; `unknown` when
    /// not recognised.
    pub family: String,
    /// Major version, digits only, e.g. `124`; empty when not known.
    pub major: String,
    /// OS family, e.g. `Windows`, `macOS`, `iOS`, `Android`, `Linux`; empty when not known.
    pub os: String,
    /// The device class.
    pub device: DeviceClass,
    /// Whether the client is a crawler or other robot.
    pub bot: bool,
}

impl AgentSummary {
    fn unknown() -> Self {
        AgentSummary {
            family: "unknown".to_owned(),
            major: String::new(),
            os: String::new(),
            device: DeviceClass::Other,
            bot: false,
        }
    }

    /// Appends the generalised one-token form: `Family/major (OS; class)`, `Family/major (bot)`,
    /// `Family/major (class)` when the OS is unknown, `unknown` when nothing is known.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.family.as_bytes());
        if !self.major.is_empty() {
            out.push(b'/');
            out.extend_from_slice(self.major.as_bytes());
        }
        if self.family == "unknown" && self.os.is_empty() && !self.bot {
            return;
        }
        out.extend_from_slice(b" (");
        if self.bot {
            out.extend_from_slice(b"bot");
        } else {
            if !self.os.is_empty() {
                out.extend_from_slice(self.os.as_bytes());
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(self.device.as_str().as_bytes());
        }
        out.push(b')');
    }
}

/// One remembered user agent.
struct Entry {
    text: Box<[u8]>,
    summary: AgentSummary,
}

/// Generalises user agents, remembering recent ones (bounded FxHashMap cache, cleared when
/// full; one per worker).
///
/// A cache hit appends the remembered bytes and allocates nothing.
pub struct AgentGeneraliser {
    parser: woothee::parser::Parser,
    cache: FxHashMap<Box<[u8]>, Entry>,
    capacity: usize,
}

impl fmt::Debug for AgentGeneraliser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentGeneraliser")
            .field("cached", &self.cache.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl AgentGeneraliser {
    /// A generaliser remembering up to `capacity` distinct user agents (0: none).
    pub fn new(capacity: usize) -> Self {
        AgentGeneraliser {
            parser: woothee::parser::Parser::new(),
            cache: FxHashMap::default(),
            capacity,
        }
    }

    /// How many user agents are remembered now.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Appends the generalised form, e.g. `Chrome/124 (Windows; desktop)`,
    /// `Safari/17 (iOS; mobile)`, `Googlebot/2 (bot)`, `curl/8 (other)`; unknown → `unknown`;
    /// `-` (no user agent) stays `-`. The output never holds anything but family, major, OS
    /// family and class: no build numbers, device models, URLs or e-mails from the original.
    pub fn generalise(&mut self, ua: &[u8], out: &mut Vec<u8>) {
        if ua == b"-" {
            out.push(b'-');
            return;
        }
        if let Some(e) = self.cache.get(ua) {
            out.extend_from_slice(&e.text);
            return;
        }
        let summary = self.parse(ua);
        let start = out.len();
        summary.write(out);
        self.remember(ua, &out[start..], summary);
    }

    /// The kept parts of a user agent, for JSON records.
    pub fn summary(&mut self, ua: &[u8]) -> AgentSummary {
        if let Some(e) = self.cache.get(ua) {
            return e.summary.clone();
        }
        let summary = self.parse(ua);
        let mut text = Vec::with_capacity(48);
        summary.write(&mut text);
        self.remember(ua, &text, summary.clone());
        summary
    }

    fn remember(&mut self, ua: &[u8], text: &[u8], summary: AgentSummary) {
        if self.capacity == 0 || ua.len() > MAX_CACHED_KEY || ua == b"-" {
            return;
        }
        if self.cache.len() >= self.capacity {
            self.cache.clear();
        }
        self.cache.insert(
            ua.into(),
            Entry {
                text: text.into(),
                summary,
            },
        );
    }

    fn parse(&self, ua: &[u8]) -> AgentSummary {
        let ua = &ua[..ua.len().min(MAX_PARSE)];
        let text = String::from_utf8_lossy(ua);
        let text = text.trim();
        if text.is_empty() || text == "-" {
            return AgentSummary::unknown();
        }
        let parser = &self.parser;
        // woothee unwraps regex captures; a panic there must not take the worker down.
        let parsed = std::panic::catch_unwind(|| parser.parse(text))
            .ok()
            .flatten();
        let mut s = AgentSummary::unknown();
        let (name, category, os, version) = match &parsed {
            Some(r) => (r.name, r.category, r.os, r.version),
            None => ("UNKNOWN", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
        };
        s.os = os_family(os);
        match category {
            "crawler" => {
                s.bot = true;
                s.device = DeviceClass::Bot;
                if name != "misc crawler" && known(name) {
                    s.family = sanitise(name);
                    s.major = crawler_major(text.as_bytes(), name);
                }
                s.os = String::new();
                return s;
            }
            "pc" => s.device = DeviceClass::Desktop,
            "smartphone" => {
                s.device = if os == "iPad"
                    || text.contains("Tablet")
                    || (s.os == "Android" && !text.contains("Mobile"))
                {
                    DeviceClass::Tablet
                } else {
                    DeviceClass::Mobile
                }
            }
            "mobilephone" => s.device = DeviceClass::Mobile,
            _ => s.device = DeviceClass::Other,
        }
        let library = category == "misc" || category == "UNKNOWN" || !known(name);
        if let (true, Some((family, major))) = (library, http_client(text.as_bytes())) {
            s.family = family.to_owned();
            s.major = major;
            s.device = DeviceClass::Other;
            return s;
        }
        if known(name) {
            s.family = sanitise(name);
            s.major = major_of(version.as_bytes());
        }
        s
    }
}

/// Whether a woothee value names something (it uses `UNKNOWN` and empty for nothing).
fn known(v: &str) -> bool {
    !v.is_empty() && v != "UNKNOWN"
}

/// Keeps only `[A-Za-z0-9 ._-]`, at most [`MAX_PART`] bytes, trimmed.
fn sanitise(v: &str) -> String {
    let mut s: String = v
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'))
        .take(MAX_PART)
        .collect();
    let trimmed = s.trim_end().len();
    s.truncate(trimmed);
    s.trim_start().to_owned()
}

/// The leading digits of a version (at most [`MAX_PART`]); empty if it starts otherwise.
fn major_of(v: &[u8]) -> String {
    v.iter()
        .take_while(|b| b.is_ascii_digit())
        .take(MAX_PART)
        .map(|&b| b as char)
        .collect()
}

/// The OS family of a woothee OS name.
fn os_family(os: &str) -> String {
    if !known(os) {
        return String::new();
    }
    let family = if os.starts_with("Windows Phone") {
        "Windows Phone"
    } else if os.starts_with("Windows") {
        "Windows"
    } else if os == "Mac OSX" {
        "macOS"
    } else if matches!(os, "iPhone" | "iPad" | "iPod" | "iOS") {
        "iOS"
    } else if os.starts_with("BlackBerry") {
        "BlackBerry"
    } else {
        return sanitise(os);
    };
    family.to_owned()
}

/// A crawler's major version: the first word of its (woothee data set) name found in the agent,
/// ASCII case-insensitively, followed by `[A-Za-z_-]*` and `/digits`. Only the digits are taken
/// from the agent.
fn crawler_major(ua: &[u8], name: &str) -> String {
    let word = name.split(' ').next().unwrap_or(name).as_bytes();
    if word.is_empty() || word.len() > ua.len() {
        return String::new();
    }
    let mut i = 0;
    while i + word.len() <= ua.len() {
        if ua[i..i + word.len()].eq_ignore_ascii_case(word) {
            let mut j = i + word.len();
            while j < ua.len() && (ua[j].is_ascii_alphabetic() || ua[j] == b'-' || ua[j] == b'_') {
                j += 1;
            }
            if j < ua.len() && ua[j] == b'/' {
                let major = major_of(&ua[j + 1..]);
                if !major.is_empty() {
                    return major;
                }
            }
            i += word.len();
        } else {
            i += 1;
        }
    }
    String::new()
}

/// Common HTTP clients and libraries, by the product token they send (compared ASCII
/// case-insensitively) and the family name written for them.
const HTTP_CLIENTS: &[(&str, &str)] = &[
    ("curl", "curl"),
    ("wget", "Wget"),
    ("python-requests", "python-requests"),
    ("python-urllib", "Python-urllib"),
    ("python-httpx", "python-httpx"),
    ("python-urllib3", "python-urllib3"),
    ("aiohttp", "aiohttp"),
    ("python", "Python"),
    ("go-http-client", "Go-http-client"),
    ("okhttp", "okhttp"),
    ("java", "Java"),
    ("apache-httpclient", "Apache-HttpClient"),
    ("jakarta commons-httpclient", "Commons-HttpClient"),
    ("axios", "axios"),
    ("node-fetch", "node-fetch"),
    ("node", "node"),
    ("undici", "undici"),
    ("got", "got"),
    ("postmanruntime", "PostmanRuntime"),
    ("insomnia", "insomnia"),
    ("httpie", "HTTPie"),
    ("libwww-perl", "libwww-perl"),
    ("lwp-request", "lwp-request"),
    ("ruby", "Ruby"),
    ("faraday", "Faraday"),
    ("guzzlehttp", "GuzzleHttp"),
    ("php", "PHP"),
    ("dart", "Dart"),
    ("dalvik", "Dalvik"),
    ("cfnetwork", "CFNetwork"),
    ("reqwest", "reqwest"),
    ("hyper", "hyper"),
    ("scrapy", "Scrapy"),
    ("powershell", "PowerShell"),
    ("winhttp", "WinHTTP"),
    ("fetch libfetch", "libfetch"),
    ("libfetch", "libfetch"),
    ("kube-probe", "kube-probe"),
    ("elb-healthchecker", "ELB-HealthChecker"),
    ("prometheus", "Prometheus"),
    ("grpc-go", "grpc-go"),
];

/// The family and major version of a known HTTP client, from the agent's first product token.
fn http_client(ua: &[u8]) -> Option<(&'static str, String)> {
    let end = ua
        .iter()
        .position(|&b| b == b'/' || b == b'(' || b == b';')
        .unwrap_or(ua.len());
    let product = trim_ascii(&ua[..end]);
    let (_, family) = HTTP_CLIENTS
        .iter()
        .find(|(token, _)| product.eq_ignore_ascii_case(token.as_bytes()))?;
    let major = match ua.get(end) {
        Some(b'/') => {
            let rest = &ua[end + 1..];
            let rest = rest.strip_prefix(b"v").unwrap_or(rest);
            major_of(rest)
        }
        _ => String::new(),
    };
    Some((family, major))
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(ua: &[u8]) -> String {
        let mut g = AgentGeneraliser::new(16);
        let mut out = Vec::new();
        g.generalise(ua, &mut out);
        String::from_utf8(out).expect("generalised form is ASCII")
    }

    fn token_safe(s: &str) -> bool {
        s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b' ' | b'.' | b'_' | b'-' | b'/' | b'(' | b')' | b';')
        })
    }

    #[test]
    fn real_browsers_keep_family_major_os_and_class() {
        let cases: &[(&str, &str)] = &[
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                "Chrome/124 (Windows; desktop)",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
                "Edge/124 (Windows; desktop)",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
                "Firefox/125 (Windows; desktop)",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
                "Safari/17 (macOS; desktop)",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36",
                "Chrome/32 (macOS; desktop)",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                "Firefox/125 (Linux; desktop)",
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:27.0) Gecko/20100101 Firefox/27.0",
                "Firefox/27 (Linux; desktop)",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
                "Chrome/124 (Android; mobile)",
            ),
            (
                "Mozilla/5.0 (Linux; Android 4.4.2; Nexus 5 Build/KOT49H) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.99 Mobile Safari/537.36",
                "Chrome/32 (Android; mobile)",
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36",
                "Chrome/124 (Android; tablet)",
            ),
            (
                "Mozilla/5.0 (Android; Tablet; rv:27.0) Gecko/27.0 Firefox/27.0",
                "Firefox/27 (Android; tablet)",
            ),
            (
                "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
                "Firefox/125 (Android; mobile)",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2.1 Mobile/15E148 Safari/604.1",
                "Safari/17 (iOS; mobile)",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                "Safari/17 (iOS; tablet)",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 7_0_4 like Mac OS X) AppleWebKit/537.51.1 (KHTML, like Gecko) CriOS/32.0.1700.21 Mobile/11B554a Safari/9537.53",
                "Chrome/32 (iOS; mobile)",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                "Chrome/124 (ChromeOS; desktop)",
            ),
            (
                "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)",
                "Internet Explorer/9 (Windows; desktop)",
            ),
        ];
        for (ua, want) in cases {
            assert_eq!(gen(ua.as_bytes()), *want, "{ua}");
        }
    }

    #[test]
    fn crawlers_keep_family_and_major_only() {
        let cases: &[(&str, &str)] = &[
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot/2 (bot)"),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko) Version/6.0 Mobile/10A5376e Safari/8536.25 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "Googlebot/2 (bot)",
            ),
            ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot/2 (bot)"),
            ("msnbot/2.0b (+http://search.msn.com/msnbot.htm)", "msnbot/2 (bot)"),
            ("Mozilla/5.0 (compatible; MyBot/1.0; +mailto:jane@example.com)", "unknown (bot)"),
        ];
        for (ua, want) in cases {
            assert_eq!(gen(ua.as_bytes()), *want, "{ua}");
        }
        let mut g = AgentGeneraliser::new(4);
        let s =
            g.summary(b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert!(s.bot);
        assert_eq!(s.device, DeviceClass::Bot);
        assert_eq!(
            (s.family.as_str(), s.major.as_str(), s.os.as_str()),
            ("Googlebot", "2", "")
        );
    }

    #[test]
    fn http_clients_are_named_from_a_fixed_table() {
        let cases: &[(&str, &str)] = &[
            ("curl/8.4.0", "curl/8 (other)"),
            ("python-requests/2.31.0", "python-requests/2 (other)"),
            ("Python-urllib/2.7", "Python-urllib/2 (other)"),
            ("Wget/1.21.4", "Wget/1 (other)"),
            ("Go-http-client/1.1", "Go-http-client/1 (other)"),
            ("okhttp/4.12.0", "okhttp/4 (other)"),
            ("fetch libfetch/2.0", "libfetch/2 (other)"),
        ];
        for (ua, want) in cases {
            assert_eq!(gen(ua.as_bytes()), *want, "{ua}");
        }
    }

    #[test]
    fn unknown_clients_keep_nothing_of_their_own_name() {
        assert_eq!(gen(b""), "unknown");
        assert_eq!(gen(b"   "), "unknown");
        assert_eq!(gen(b"-"), "-");
        assert_eq!(gen(b"JanesPrivateScraper/1.0"), "unknown");
        assert_eq!(gen(b"jane@example.com/1.0"), "unknown");
        assert_eq!(gen(b"\xff\xfe\x00garbage\x80\"\\"), "unknown");
        let s = AgentGeneraliser::new(1).summary(b"");
        assert_eq!(s, AgentSummary::unknown());
    }

    #[test]
    fn emails_urls_and_build_numbers_never_reach_the_output() {
        let uas: &[&str] = &[
            "Mozilla/5.0 (compatible; MyBot/1.0; +mailto:jane@example.com)",
            "Mozilla/5.0 (Windows; U; Windows NT 5.1; fr; rv:1.8.1) VoilaBot BETA 1.2 (support.voilabot@orange-ftgroup.com)",
            "Mozilla/5.0 (Linux; Android 4.3; SM-N9005 Build/JSS15J) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.99 Mobile Safari/537.36",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "curl/8.4.0 jane.doe@example.com https://evil.example/?token=abc",
        ];
        for ua in uas {
            let out = gen(ua.as_bytes());
            for bad in [
                "@",
                "jane",
                "example",
                "http",
                "mailto",
                "KOT49H",
                "SM-N9005",
                "JSS15J",
                "1700",
                "voilabot",
                "google.com",
            ] {
                assert!(!out.contains(bad), "{bad:?} in {out:?} from {ua:?}");
            }
            assert!(token_safe(&out), "{out:?}");
        }
    }

    #[test]
    fn corpus_agents_generalise_to_token_safe_strings() {
        let mut g = AgentGeneraliser::new(64);
        let mut seen = 0;
        for name in [
            "elastic-examples_apache_logs.log",
            "logparser_hackers-access.log",
        ] {
            let p = format!(
                "{}/../shared/corpus/access/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
            for line in data.split(|&b| b == b'\n').take(3000) {
                let fields: Vec<&[u8]> = line.split(|&b| b == b'"').collect();
                let Some(ua) = fields.get(5) else { continue };
                let mut out = Vec::new();
                g.generalise(ua, &mut out);
                let out = String::from_utf8(out).expect("ASCII");
                assert!(
                    token_safe(&out),
                    "{out:?} from {:?}",
                    String::from_utf8_lossy(ua)
                );
                assert!(!out.contains("http") && !out.contains('@'), "{out:?}");
                assert!(g.cached() <= 64);
                seen += 1;
            }
        }
        assert!(seen > 1000, "{seen}");
    }

    #[test]
    fn cache_hits_return_identical_output() {
        let ua = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
        let mut g = AgentGeneraliser::new(8);
        let mut first = Vec::new();
        g.generalise(ua, &mut first);
        assert_eq!(g.cached(), 1);
        let mut second = b"prefix ".to_vec();
        g.generalise(ua, &mut second);
        assert_eq!(&second[7..], &first[..]);
        assert_eq!(g.cached(), 1);
        let s = g.summary(ua);
        assert_eq!(s.family, "Chrome");
        assert_eq!(s.major, "124");
        assert_eq!(s.os, "Windows");
        assert_eq!(s.device, DeviceClass::Desktop);
        assert!(!s.bot);
        // A summary first, then a generalise hit, agree too.
        let mut g = AgentGeneraliser::new(8);
        let s2 = g.summary(ua);
        let mut third = Vec::new();
        g.generalise(ua, &mut third);
        assert_eq!(s, s2);
        assert_eq!(third, first);
    }

    #[test]
    fn cache_stays_bounded() {
        let mut g = AgentGeneraliser::new(10);
        let mut out = Vec::new();
        for i in 0..1000 {
            out.clear();
            let ua = format!("Mozilla/5.0 (Windows NT 10.0) Chrome/{i}.0.0.0 Safari/537.36");
            g.generalise(ua.as_bytes(), &mut out);
            assert!(g.cached() <= 10);
            assert_eq!(out, format!("Chrome/{i} (Windows; desktop)").into_bytes());
        }
        let mut none = AgentGeneraliser::new(0);
        none.generalise(b"curl/8.0", &mut out);
        assert_eq!(none.cached(), 0);
        let long = vec![b'a'; MAX_CACHED_KEY + 1];
        g.generalise(&long, &mut out);
        assert!(!g.cache.contains_key(&long[..]));
    }

    #[test]
    fn sanitise_keeps_only_safe_bytes_and_bounds_length() {
        assert_eq!(sanitise("Ab1 ._-\"\\@/();x"), "Ab1 ._-x");
        assert_eq!(sanitise(&"a".repeat(100)).len(), MAX_PART);
        assert_eq!(major_of(&[b'9'; 100]).len(), MAX_PART);
        assert_eq!(crawler_major(b"x", "Googlebot"), "");
        assert_eq!(crawler_major(b"googlebot-image/1.0", "Googlebot"), "1");
    }

    proptest::proptest! {
        #[test]
        fn generalise_never_panics_and_is_token_safe(ua in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut g = AgentGeneraliser::new(4);
            let mut out = Vec::new();
            g.generalise(&ua, &mut out);
            let out = String::from_utf8(out).expect("ASCII");
            proptest::prop_assert!(token_safe(&out), "{:?}", out);
            proptest::prop_assert!(!out.contains('"') && !out.contains('\\'));
        }

        #[test]
        fn generalise_of_browserish_agents_is_token_safe(ua in "Mozilla/5\\.0 \\([ -~]{0,60}\\) [ -~]{0,80}") {
            let mut g = AgentGeneraliser::new(4);
            let mut out = Vec::new();
            g.generalise(ua.as_bytes(), &mut out);
            let out = String::from_utf8(out).expect("ASCII");
            proptest::prop_assert!(token_safe(&out), "{:?}", out);
        }
    }
}
