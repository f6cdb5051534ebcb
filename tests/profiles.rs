//! Every field policy value and both shipped profiles, on access-log and JSON records, with
//! the real GeoIP test databases in `../shared/geoip/`.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use redactd::config::Config;
use redactd::format::Format;
use redactd::minimise::geo::{GeoConfig, GeoDb};
use redactd::minimise::{ipcrypt_key, ipcrypt_pfx_key, Minimiser};
use redactd::pseudo::ipcrypt::{IpCryptDeterministic, IpCryptPfx};
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

const KEY: [u8; 32] = [8; 32];

const LINE: &str = concat!(
    r#"216.160.83.56 - jdoe [10/Oct/2023:13:55:36 +0000] "#,
    r#""GET /users/jane%40example.com/orders/12345?q=shoes&email=a%40b.com&token=abc123#frag HTTP/1.1" 200 5 "#,
    r#""https://www.google.com/search?q=jane@example.com" "#,
    r#""Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36""#
);

fn geo() -> Arc<GeoDb> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/geoip/maxmind-test");
    let config = GeoConfig {
        country: None,
        city: Some(dir.join("GeoIP2-City-Test.mmdb")),
        asn: Some(dir.join("GeoLite2-ASN-Test.mmdb")),
    };
    Arc::new(GeoDb::open(&config).unwrap())
}

/// A redactor applying a profile whose settings are `settings` (TOML lines).
fn with_profile(settings: &str) -> Redactor {
    let text = format!("[profile.p]\npurpose = \"test\"\nlawful_basis = \"test\"\nretention_days = 1\n{settings}\n");
    let config = Config::parse("test.toml", &text, None).unwrap();
    profile_redactor(config.profile("p").unwrap().clone())
}

fn profile_redactor(profile: redactd::minimise::profile::Profile) -> Redactor {
    let key = Key::from_bytes(KEY);
    let redactor = Redactor::new(&RuleSet::shipped(), Some(Pseudonymiser::new(&key))).unwrap();
    let geo = profile.needs_geoip().then(geo);
    redactor.with_minimiser(Minimiser::new(profile, Some(&key), geo).unwrap())
}

fn run(r: &Redactor, line: &str) -> String {
    let mut s = r.scratch();
    let mut out = Vec::new();
    r.redact_line(line.as_bytes(), Format::Auto, &mut out, &mut s);
    String::from_utf8(out).unwrap()
}

/// The client field (up to the first space).
fn client(out: &str) -> &str {
    out.split(' ').next().unwrap()
}

fn quoted(out: &str, n: usize) -> String {
    out.split('"').nth(n).unwrap().to_string()
}

#[test]
fn client_ip_policies() {
    let ip: IpAddr = "216.160.83.56".parse().unwrap();
    let key = Key::from_bytes(KEY);
    let det = IpCryptDeterministic::new(&ipcrypt_key(&key))
        .encrypt(ip)
        .to_string();
    let pfx = IpCryptPfx::new(&ipcrypt_pfx_key(&key))
        .unwrap()
        .encrypt(ip)
        .to_string();
    for (settings, want) in [
        ("client_ip = \"keep\"", "216.160.83.56".to_string()),
        ("client_ip = \"truncate\"", "216.160.83.0".to_string()),
        (
            "client_ip = \"truncate\"\nipv4_prefix = 16",
            "216.160.0.0".to_string(),
        ),
        ("client_ip = \"generalise\"", "US-AS209".to_string()),
        ("client_ip = \"drop\"", "-".to_string()),
        ("client_ip = \"ipcrypt\"", det.clone()),
        ("client_ip = \"ipcrypt-pfx\"", pfx.clone()),
    ] {
        assert_eq!(
            client(&run(&with_profile(settings), LINE)),
            want,
            "{settings}"
        );
    }
    assert!(
        pfx.parse::<IpAddr>().unwrap().is_ipv4(),
        "pfx keeps IPv4 as IPv4"
    );
    let hmac = run(&with_profile("client_ip = \"pseudonymise\""), LINE);
    assert!(client(&hmac).starts_with("ip:"), "{hmac}");
}

#[test]
fn client_host_names_are_kept_only_when_addresses_are_and_never_encrypted_as_addresses() {
    let line = LINE.replacen("216.160.83.56", "cpc12-lond4-2-0-cust45.example.net", 1);
    let host = "cpc12-lond4-2-0-cust45.example.net";
    for (policy, want) in [
        ("keep", Some(host)),
        ("truncate", Some("-")),
        ("generalise", Some("-")),
        ("drop", Some("-")),
        ("ipcrypt", Some("-")),
        ("ipcrypt-pfx", Some("-")),
        ("pseudonymise", None),
    ] {
        let out = run(&with_profile(&format!("client_ip = \"{policy}\"")), &line);
        match want {
            Some(want) => assert_eq!(client(&out), want, "{policy}"),
            None => assert!(client(&out).starts_with("ip:"), "{policy}: {out}"),
        }
    }
}

#[test]
fn ipcrypt_pfx_keeps_one_subnet_in_one_pseudonymous_subnet() {
    let r = with_profile("client_ip = \"ipcrypt-pfx\"");
    let a: IpAddr = client(&run(&r, &LINE.replace("216.160.83.56", "198.51.100.7")))
        .parse()
        .unwrap();
    let b: IpAddr = client(&run(&r, &LINE.replace("216.160.83.56", "198.51.100.200")))
        .parse()
        .unwrap();
    let (IpAddr::V4(a), IpAddr::V4(b)) = (a, b) else {
        panic!("IPv4 stays IPv4")
    };
    assert_eq!(a.octets()[..3], b.octets()[..3], "{a} {b}");
}

#[test]
fn user_policies() {
    for (policy, check) in [("keep", "jdoe"), ("drop", "-")] {
        let out = run(&with_profile(&format!("user = \"{policy}\"")), LINE);
        assert_eq!(out.split(' ').nth(2).unwrap(), check, "{policy}");
    }
    let out = run(&with_profile("user = \"pseudonymise\""), LINE);
    assert!(out.split(' ').nth(2).unwrap().starts_with("user:"), "{out}");
}

#[test]
fn user_agent_policies() {
    let ua = |policy: &str| {
        quoted(
            &run(&with_profile(&format!("user_agent = \"{policy}\"")), LINE),
            5,
        )
    };
    assert!(ua("keep").contains("Chrome/124.0.0.0 Safari/537.36"));
    assert_eq!(ua("generalise"), "Chrome/124 (Windows; desktop)");
    assert!(ua("pseudonymise").starts_with("ua:"));
    assert_eq!(ua("drop"), "-");
}

#[test]
fn path_and_query_policies() {
    let target = |settings: &str| {
        let out = run(&with_profile(settings), LINE);
        quoted(&out, 1).split(' ').nth(1).unwrap().to_string()
    };
    assert_eq!(
        target("path = \"template\"\nquery = \"drop\""),
        "/users/{email}/orders/{id}"
    );
    let scanned = target("path = \"scan\"\nquery = \"scan\"");
    assert!(
        scanned.starts_with("/users/email:")
            && scanned.contains("/orders/12345?q=shoes&email=email:"),
        "{scanned}"
    );
    assert!(
        !scanned.contains("token") && !scanned.contains("abc123") && !scanned.contains('#'),
        "secret params and fragments go: {scanned}"
    );
    assert_eq!(
        target("path = \"keep\"\nquery = \"drop\""),
        target("path = \"scan\"\nquery = \"drop\""),
        "kept paths are still scanned"
    );
    assert_eq!(target("path = \"drop\"\nquery = \"drop\""), "/");
    let allow = target("path = \"template\"\nquery = \"allowlist\"\nquery_allow = [\"q\"]");
    assert!(
        allow.starts_with("/users/{email}/orders/{id}?q=shoes&email=email:")
            && !allow.contains("token"),
        "{allow}"
    );
    assert!(
        !target("query = \"keep\"").contains("a%40b.com"),
        "a kept query is still scanned"
    );
}

#[test]
fn referrer_policies() {
    let referrer = |policy: &str| {
        quoted(
            &run(&with_profile(&format!("referrer = \"{policy}\"")), LINE),
            3,
        )
    };
    assert_eq!(referrer("origin"), "https://www.google.com/");
    assert_eq!(referrer("drop"), "-");
    assert!(referrer("scan").starts_with("https://www.google.com/search?q=email:"));
    assert!(
        !referrer("keep").contains("jane@"),
        "a kept referrer is still scanned"
    );
    let own = quoted(&run(&with_profile("referrer = \"origin\"\nown_hosts = [\"www.google.com\"]\npath = \"template\"\nquery = \"drop\""), LINE), 3);
    assert_eq!(
        own, "https://www.google.com/search",
        "own hosts get the URI rules"
    );
}

#[test]
fn time_policies() {
    let time = |policy: &str| {
        let out = run(&with_profile(&format!("time = \"{policy}\"")), LINE);
        out[out.find('[').unwrap() + 1..out.find(']').unwrap()].to_string()
    };
    assert_eq!(time("keep"), "10/Oct/2023:13:55:36 +0000");
    assert_eq!(time("minute"), "10/Oct/2023:13:55:00 +0000");
    assert_eq!(time("hour"), "10/Oct/2023:13:00:00 +0000");
}

#[test]
fn shipped_security_profile_keeps_what_security_needs_and_nothing_more() {
    let config = Config::shipped();
    let out = run(
        &profile_redactor(config.profile("security").unwrap().clone()),
        LINE,
    );
    assert!(client(&out).parse::<IpAddr>().unwrap().is_ipv4());
    assert!(
        out.contains("Chrome/124.0.0.0 Safari/537.36"),
        "agent kept: {out}"
    );
    assert!(out.contains("[10/Oct/2023:13:55:36 +0000]"));
    for gone in [
        "216.160.83.56",
        "jdoe",
        "jane",
        "a%40b.com",
        "abc123",
        "#frag",
        "search?q",
    ] {
        assert!(!out.contains(gone), "{gone} in {out}");
    }
}

#[test]
fn shipped_analytics_profile_keeps_country_family_template_and_hour() {
    let config = Config::shipped();
    let r = profile_redactor(config.profile("analytics").unwrap().clone());
    assert_eq!(
        run(&r, LINE),
        r#"US-AS209 - - [10/Oct/2023:13:00:00 +0000] "GET /users/{email}/orders/{id} HTTP/1.1" 200 5 "https://www.google.com/" "Chrome/124 (Windows; desktop)""#
    );
    let json = r#"{"client_ip":"216.160.83.56","http":{"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2.1 Mobile/15E148 Safari/604.1"},"url":"/users/jane%40example.com/orders/12345?x=1","time":"2023-10-10T13:55:42Z","msg":"hi jane@example.com"}"#;
    let out = run(&r, json);
    assert!(out.starts_with(r#"{"client_ip":"US-AS209","http":{"user_agent":"Safari/17 (iOS; mobile)"},"url":"/users/{email}/orders/{id}","time":"2023-10-10T13:00:00Z","msg":"hi email:"#), "{out}");
}

#[test]
fn one_record_minimised_for_every_profile_leaks_nothing_of_the_raw_values() {
    let config = Config::shipped();
    for (name, profile) in &config.profiles {
        let out = run(&profile_redactor(profile.clone()), LINE);
        for raw in [
            "216.160.83.56",
            "jane%40example.com",
            "jane@example.com",
            "a%40b.com",
            "abc123",
        ] {
            assert!(!out.contains(raw), "profile {name} left {raw}: {out}");
        }
    }
}

#[test]
fn a_configured_geoip_database_that_is_missing_or_corrupt_stops_start_up_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.mmdb");
    std::fs::write(&corrupt, b"not a maxmind database at all").unwrap();
    for (db, needle) in [
        (dir.path().join("missing.mmdb"), "missing.mmdb"),
        (corrupt.clone(), "corrupt.mmdb"),
    ] {
        let config = dir.path().join("redactd.toml");
        let text = format!(
            "[geoip]\ncountry = \"{}\"\n[profile.a]\npurpose = \"p\"\nlawful_basis = \"b\"\nretention_days = 1\nclient_ip = \"generalise\"\n",
            db.display()
        );
        std::fs::write(&config, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_redactd"))
            .args(["filter", "--profile", "a", "-c"])
            .arg(&config)
            .env("REDACTD_KEY", "44".repeat(32))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn a_profile_that_generalises_without_geoip_is_refused() {
    let err = Minimiser::new(
        Config::shipped().profile("analytics").unwrap().clone(),
        None,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("[geoip]"), "{err}");
}
