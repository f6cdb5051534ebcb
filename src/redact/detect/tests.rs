//! Detector tests through the same loop the engine runs.

use super::*;
use proptest::prelude::*;
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use std::sync::OnceLock;

fn regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let pats: Vec<&str> = BUILTINS.iter().map(|b| b.pattern).collect();
        Regex::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build_many(&pats)
            .expect("builtin patterns compile")
    })
}

/// The engine loop: one leftmost-first search over all patterns, `value` group spans,
/// check, resume.
fn run_bytes(hay: &[u8]) -> Vec<(&'static str, String)> {
    let re = regex();
    let mut caps = re.create_captures();
    let mut out = Vec::new();
    let mut at = 0;
    while at <= hay.len() {
        let Some(m) = re.search(&Input::new(hay).range(at..)) else {
            break;
        };
        let b = &BUILTINS[m.pattern().as_usize()];
        let has_value = re.group_info().to_index(m.pattern(), "value").is_some();
        let span = if has_value {
            let input = Input::new(hay)
                .range(m.range())
                .anchored(Anchored::Pattern(m.pattern()));
            re.search_captures(&input, &mut caps);
            caps.get_group_by_name("value")
                .map(|g| g.range())
                .unwrap_or(m.range())
        } else {
            m.range()
        };
        match (b.check)(hay, span) {
            Verdict::Accept(s) => {
                assert!(s.start <= s.end && s.end <= hay.len());
                out.push((
                    b.name,
                    String::from_utf8_lossy(&hay[s.clone()]).into_owned(),
                ));
                at = m.end().max(s.end).max(m.start() + 1);
            }
            Verdict::Reject(r) => {
                assert!(r > m.start(), "{} rejected without progress", b.name);
                at = r;
            }
        }
    }
    out
}

fn run(hay: &str) -> Vec<(&'static str, String)> {
    run_bytes(hay.as_bytes())
}

/// Asserts that `hay` yields exactly one detection, by `name`, of `want`.
#[track_caller]
fn one(name: &str, hay: &str, want: &str) {
    let got = run(hay);
    assert_eq!(
        got,
        vec![(builtin(name).unwrap().name, want.to_string())],
        "in {hay:?}"
    );
}

/// Asserts that `hay` yields a detection by `name` of `want` (among others).
#[track_caller]
fn has(name: &str, hay: &str, want: &str) {
    let got = run(hay);
    assert!(
        got.iter().any(|(n, v)| *n == name && v == want),
        "{name} {want:?} not in {got:?} for {hay:?}"
    );
}

/// Asserts that `hay` yields nothing.
#[track_caller]
fn none(hay: &str) {
    assert_eq!(run(hay), vec![], "in {hay:?}");
}

/// Asserts that `name` finds nothing in `hay` (other detectors may).
#[track_caller]
fn not_by(name: &str, hay: &str) {
    let got = run(hay);
    assert!(
        got.iter().all(|(n, _)| *n != name),
        "{name} fired in {hay:?}: {got:?}"
    );
}

#[test]
fn all_patterns_compile_and_names_are_unique() {
    let _ = regex();
    for (i, b) in BUILTINS.iter().enumerate() {
        assert!(BUILTINS[..i].iter().all(|o| o.name != b.name), "{}", b.name);
        assert!(b.pattern.is_ascii(), "{}", b.name);
    }
    assert_eq!(BUILTINS.len(), 20);
    assert!(builtin("email").is_some());
    assert!(builtin("nope").is_none());
}

#[test]
fn email() {
    one(
        "email",
        "from john.smith@example.com ok",
        "john.smith@example.com",
    );
    one(
        "email",
        "JOHN+tag@Mail.Example.CO.UK",
        "JOHN+tag@Mail.Example.CO.UK",
    );
    one("email", "to=jane%40example.org&x=1", "jane%40example.org");
    one(
        "email",
        r#"{"e":"jane\u0040example.org"}"#,
        r"jane\u0040example.org",
    );
    one("email", "?next%3Djohn%40example.com", "john%40example.com");
    one("email", "a=b%26john@example.com", "john@example.com");
    one("email", "...john@example.com.", "john@example.com");
    one("email", "git@github.com:org/repo", "git@github.com");
    one("email", "<mary@sub.example.io>", "mary@sub.example.io");
    none("user@localhost");
    none("foo@bar");
    none("@handle and @other");
    none("exampleSDID@32473");
    none("x@-bad-.com");
    // A run longer than a local part may be before the `@`: its last 64 characters are
    // taken (fail closed), whatever glued text comes before.
    let long = format!("{}@example.com", "a".repeat(65));
    one("email", &long, &format!("{}@example.com", "a".repeat(64)));
    // an IP host is not an e-mail (documented): the IPv4 detector finds the address
    one("ipv4", "a@1.2.3.4", "1.2.3.4");
}

#[test]
fn ipv4() {
    for (hay, ip) in [
        ("1.2.3.4:8080", "1.2.3.4"),
        ("(1.2.3.4)", "1.2.3.4"),
        ("from 203.0.113.9 port 22", "203.0.113.9"),
        ("ip=192.168.1.1&x", "192.168.1.1"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("for=192.0.2.60;proto=http", "192.0.2.60"),
        ("255.255.255.0", "255.255.255.0"),
        ("0.0.0.0", "0.0.0.0"),
    ] {
        one("ipv4", hay, ip);
    }
    none("Mozilla/5.0 Chrome/120.0.6099.109 Safari/537.36");
    none("zlib/1.2.3.4");
    none("Chrome/124.0.0.0");
    none("v1.2.3.4 V10.0.0.1");
    none("version 1.2.3.4, Version/10.1.2.3");
    none("oid 1.3.6.1.4.1.311");
    none("256.1.1.1 1.2.3.04 01.2.3.4");
    none("1.2.3");
}

#[test]
fn ipv6() {
    for (hay, ip) in [
        ("src 2001:db8::1 dst", "2001:db8::1"),
        ("::1", "::1"),
        ("::ffff:192.0.2.7", "::ffff:192.0.2.7"),
        ("fe80::1%eth0 up", "fe80::1%eth0"),
        ("http://[fe80::1%25eth0]/", "fe80::1%25eth0"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        (
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ),
        (
            "ip=2001:DB8:0:0:8:800:200C:417A;",
            "2001:DB8:0:0:8:800:200C:417A",
        ),
    ] {
        one("ipv6", hay, ip);
    }
    none("at 13:55:36 ok");
    none("[10/Oct/2000:13:55:36 -0700]");
    none("mac 00:1a:2b:3c:4d:5e");
    none("eui 00:1a:2b:ff:fe:3c:4d:5e");
    none("std::string Foo::Bar a::b x_ab::12 ::");
    none("cafe:babe dead:beef:");
    none("fmt::Debug io::Error crate::a1::b2");
    none("1:2:3:4:5:6:7:8:9 ::::::: 1::2::3");
    one("ipv6", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:1.2.3.4");
    one("ipv6", "fe80::", "fe80::");
    // the IPv4 tail of a non-address run is still found
    one("ipv4", "abc:def:1.2.3.4", "1.2.3.4");
}

#[test]
fn phone_uk() {
    for hay in [
        "020 7946 0958",
        "07700 900123",
        "07700900123",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+447700900123",
        "(01632) 960 001",
        "01632 960001",
        "0161-496-0000",
        "%2B447700900123",
        "020+7946+0958",
        "0800 123 456",
        "07700 900 123",
    ] {
        one("phone_uk", &format!("tel {hay}, ok"), hay);
    }
    one("phone_uk", "?phone=020+7946+0958&x=1", "020+7946+0958");
    has(
        "phone_uk",
        "call 07700 900123 or 07700 900124",
        "07700 900123",
    );
    has(
        "phone_uk",
        "call 07700 900123 or 07700 900124",
        "07700 900124",
    );
    none("01-02-2023 12");
    none("20231015123045 1700000000 12345678901");
    none("ORD-0123456789 #01234567890 x.07700900123");
    // a number as a URL path segment is still a number (fail closed)
    one("phone_uk", "GET /by-phone/07700900123?x=1", "07700900123");
    none("id a07700900123 07700900123b");
    none("0400 123 4567"); // 04 is not a UK range
    none("020 7946 0958:12"); // glued to a time-ish tail
    none("123e4567-e89b-12d3-a456-426614174000");
    none("uuid 0123456789abcdef0123456789abcdef");
    none("01234 56");
    not_by("phone_uk", "+0123456789 =+07700900123");
    one("phone_uk", "q=call+07700900123", "07700900123");
}

#[test]
fn phone_uk_with_the_00_international_prefix() {
    for hay in [
        "0044 20 7946 0958",
        "0044 (0)20 7946 0958",
        "0044-7700-900123",
    ] {
        one("phone_uk", &format!("call {hay} now"), hay);
    }
    none("id 00442079460958 ref"); // unspaced: as likely an id
    none("0044 1234 5678 90123");
}

#[test]
fn phone_intl() {
    for hay in [
        "+1 202 555 0143",
        "+33 1 23 45 67 89",
        "+4915112345678",
        "%2B4915112345678",
        "+1-202-555-0143",
    ] {
        one("phone_intl", &format!("tel: {hay}."), hay);
    }
    // a +44 number that is not a UK shape is still an international number
    has("phone_uk", "x +44 1234 5678 90123 y", "+44 1234 5678 90123");
    none("+0123456789");
    none("q=abc+12345678");
    // glued to a word it is no phone; its digits are still a Luhn-valid Visa number, which
    // the card detector masks (a rejected candidate hides no later one).
    one("card", "x+4915112345678", "4915112345678");
    none("+1234567 short");
    none("+1234567890123456 too long");
    none("+4915112345678abc");
}

#[test]
fn email_with_utf8_local_part_or_domain() {
    for hay in [
        "jürgen.müller@example.de",
        "josé@correo.es",
        "info@bücher.de",
        "用户@例子.com",
    ] {
        one("email", &format!("contact: {hay} or"), hay);
    }
    // A 64-byte cut never starts inside a character.
    let long = format!("{}@example.com", "ü".repeat(40));
    let got = run(&long);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].1.starts_with('ü') && got[0].1.ends_with("@example.com"),
        "{got:?}"
    );
}

#[test]
fn api_token() {
    for hay in [
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAY34FZKBOKMUTVV7A",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV",
        "glpat-xYz12345678901234567",
        "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "rk_test_51H0abcdefghijklmnop",
        "AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "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",
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
    ] {
        one("api_token", &format!("deploy with {hay} now"), hay);
    }
    // Wrong lengths, glued, or only a prefix: not a token.
    none("AKIAIOSFODNN7EXAMPL AKIAIOSFODNN7EXAMPLE1 ghp_short xAKIAIOSFODNN7EXAMPLE");
    none("risk_live_4eC39HqLyjWDarjtT1zdp7dc sk_live_ AIzaSy npm_install gh_pages");
    none("the skill ASIA-Pacific region SG.com");
}

#[test]
fn phone_nanp() {
    for hay in [
        "(555) 123-4567",
        "(555)123-4567",
        "(555)-123-4567",
        "555-123-4567",
        "555.123.4567",
        "1-800-555-0199",
        "1 (212) 555-0143",
        "%28555%29%20123-4567",
        "1%20%28888%29%20555-3465",
        "1+(212)+555-0143",
    ] {
        one("phone_nanp", &format!("call {hay} today"), hay);
    }
    one("phone_nanp", "phone=555-123-4567&x=1", "555-123-4567");
    one(
        "phone_nanp",
        "GET /by-phone/555-123-4567 HTTP/1.1",
        "555-123-4567",
    );
    none("555 123 4567 bytes"); // spaces only: sizes and counters look like this
    none("555-123.4567"); // mixed separators
    none("911-555-1234 411-555-1234"); // service codes, not area codes
    none("123-456-7890"); // no area code starts with 1
    none("INV-555-123-4567 x555-123-4567 555-123-4567-12 555-123-45678");
    none("v555.123.4567.1 at 555-123-4567:30");
    none("2024-555-1234 01-555-123-4567");
}

#[test]
fn card() {
    for hay in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
        "2223003122003222",
        "378282246310005",
        "3782 822463 10005",
        "6011111111111117",
        "3530111333300000",
        "30569309025904",
        "6200000000000005",
        "4222222222222",
    ] {
        one("card", &format!("card={hay};"), hay);
    }
    none("4111111111111112");
    none("4111 1111-1111 1111");
    none("1234567890123 1700000000000");
    none("0.4111111111111111 4111111111111111.5");
    none("7111111111111111"); // no such issuer
    none("371111111111111111"); // Amex with 18 digits
}

#[test]
fn iban() {
    for hay in [
        "GB82WEST12345698765432",
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "gb82west12345698765432",
        "NO9386011117947",
        "FR1420041010050500013M02606",
        "BE68 5390 0754 7034",
    ] {
        one("iban", &format!("iban {hay} paid"), hay);
    }
    has(
        "iban",
        "BE68 5390 0754 7034, GB82WEST12345698765432",
        "GB82WEST12345698765432",
    );
    none("GB82WEST12345698765431");
    none("GB82WEST123456987654329");
    none("ZZ82WEST12345698765432");
    none("ab12cdef0123456789abcdef");
}

#[test]
fn uk_bank_account() {
    one(
        "uk_bank_account",
        "paid 20-00-00 12345678 today",
        "20-00-00 12345678",
    );
    one("uk_bank_account", "20-00-00/12345678", "20-00-00/12345678");
    one(
        "uk_bank_account",
        "20-00-00 account 12345678",
        "20-00-00 account 12345678",
    );
    one(
        "uk_bank_account",
        "20-00-00, a/c 12345678",
        "20-00-00, a/c 12345678",
    );
    one("uk_bank_account", "sort code: 20-00-00", "20-00-00");
    one(
        "uk_bank_account",
        "Sortcode 200000 acc 12345678",
        "200000 acc 12345678",
    );
    one(
        "uk_bank_account",
        "sort code 20 00 00 12345678",
        "20 00 00 12345678",
    );
    one("uk_bank_account", "account number: 12345678", "12345678");
    one("uk_bank_account", "acct no 12345678", "12345678");
    one(
        "uk_bank_account",
        r#""accountNumber":"12345678""#,
        "12345678",
    );
    none("on 20-00-00 at noon");
    none("200000 12345678");
    none("account number: 123456789");
}

#[test]
fn vat_gb() {
    one("vat_gb", "vat GB 175 9482 60 ok", "GB 175 9482 60");
    one("vat_gb", "GB175948260", "GB175948260");
    one("vat_gb", "GB980780684", "GB980780684");
    one("vat_gb", "GB175948260123", "GB175948260123");
    has("vat_gb", "GBGD001 GBHA599", "GBGD001");
    has("vat_gb", "GBGD001 GBHA599", "GBHA599");
    one("vat_gb", "VAT no: 175948260", "175948260");
    one("vat_gb", "VAT reg 175 9482 60", "175 9482 60");
    one("vat_gb", "VAT number GB175948260", "GB175948260");
    none("GB175948261 GBGD501 GBHA100");
    none("VAT no: 175948261");
    none("order 175948260");
}

#[test]
fn nino() {
    one("nino", "ni AB 12 34 56 C.", "AB 12 34 56 C");
    one("nino", "AB123456C", "AB123456C");
    one("nino", "nino=ab123456d&", "ab123456d");
    none("DA123456C FA123456C AD123456C AO123456C");
    none("BG123456C GB123456A ZZ123456A NK123456B");
    none("AB123456E XAB123456C AB123456CX");
}

#[test]
fn postcode_uk() {
    for pc in [
        "SW1A 1AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "GIR 0AA",
        "SW1A1AA",
    ] {
        one("postcode_uk", &format!("addr: {pc}, UK"), pc);
    }
    none("HTTP 1.1 ISO 9001 MP4 X11");
    none("sw1a 1aa");
    none("QA1 1AA AI1 1AA");
    none("XSW1A 1AA SW1A 1AAX");
    none("A1 2BC");
}

#[test]
fn jwt() {
    let t = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    one("jwt", &format!("token {t} end"), t);
    let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    one("jwt", unsigned, unsigned);
    none("eyJhbGciOiJub25lIn0 alone");
}

#[test]
fn auth_header() {
    one(
        "auth_header",
        "Authorization: Bearer abc.def-123",
        "abc.def-123",
    );
    one(
        "auth_header",
        "authorization=Basic dXNlcjpwYXNz",
        "dXNlcjpwYXNz",
    );
    one(
        "auth_header",
        r#""Authorization": "Token s3cr3t""#,
        "s3cr3t",
    );
    one(
        "auth_header",
        "Proxy-Authorization: Negotiate YIIabc",
        "YIIabc",
    );
    one(
        "auth_header",
        "AUTHORIZATION: rawcredential",
        "rawcredential",
    );
    one(
        "auth_header",
        r#"Authorization: Digest username="bob", realm="x", response="6629fae4" next"#,
        r#"username="bob", realm="x", response="6629fae4""#,
    );
    one(
        "auth_header",
        "curl -H Bearer 0123456789abcdef",
        "0123456789abcdef",
    );
    one(
        "auth_header",
        "with basic dXNlcjpwYXNz here",
        "dXNlcjpwYXNz",
    );
    none("Basic authentication required");
    none("Bearer realm=x, Bearer tokenxyz");
    none("basic abcdefghij");
    none("grant_type=authorization_code");
}

#[test]
fn url_password() {
    one("url_password", "postgres://app:s3cret@db:5432/x", "s3cret");
    one("url_password", "redis://:hunter2@cache", "hunter2");
    none("http://host:8080/path http://user@host/");
}

#[test]
fn secret_param() {
    one("secret_param", "?password=hunter2&x=1", "hunter2");
    one("secret_param", "login pass: hunter2 ok", "hunter2");
    one("secret_param", r#"{"client_secret":"abc123"}"#, "abc123");
    one("secret_param", r#"{"password": "a b c"}"#, "a b c");
    one("secret_param", r#"{\"token\":\"xyz\"}"#, "xyz");
    one("secret_param", "next%3Dfoo%26api_key%3Dk3y%26z", "k3y");
    one("secret_param", "X-Amz-Signature=deadbeef&", "deadbeef");
    one("secret_param", "db_password=pw;", "pw");
    one("secret_param", "API-KEY: abc", "abc");
    one("secret_param", "pin=1234", "1234");
    one("secret_param", "password = hunter2", "hunter2");
    not_by("secret_param", "sessions=3 passes=2 pinned=1 signatures=0");
    none("compass=north bypass=1 tokenizer=x keyboard=us");
    none("password= token=&");
    none(r#"{"token": null}"#);
}

#[test]
fn cookie_value() {
    one("cookie_value", "Cookie: WHMCSAU=abc123", "abc123");
    let got = run("Cookie: WHMCSy551iLvnhYt7=zz; lang=en; PHPSESSID=q1w2; _session_id=s9");
    assert_eq!(
        got,
        vec![
            ("cookie_value", "zz".to_string()),
            ("cookie_value", "q1w2".to_string()),
            ("cookie_value", "s9".to_string()),
        ]
    );
    one(
        "cookie_value",
        "Set-Cookie: JSESSIONID=ABCDEF; Path=/",
        "ABCDEF",
    );
    one("cookie_value", r#"cookie="ASP.NET_SessionId=xyz""#, "xyz");
    one("cookie_value", "connect.sid=s%3Aabc.def", "s%3Aabc.def");
    has(
        "cookie_value",
        "laravel_session=eyJpdiI6; remember_token=r1",
        "eyJpdiI6",
    );
    has(
        "cookie_value",
        "laravel_session=eyJpdiI6; remember_token=r1",
        "r1",
    );
    none("whmcsau=abc lang=en theme=dark");
}

#[test]
fn name_param() {
    one("name_param", "?fullname=Eileen+Coe&x=1", "Eileen+Coe");
    one("name_param", "username=eileen-coe", "eileen-coe");
    has("name_param", "first_name=Eileen&last_name=Coe", "Eileen");
    has("name_param", "first_name=Eileen&last_name=Coe", "Coe");
    none("filename=a.txt hostname=web1 pathname=/x servername=y server-name=z");
}

#[test]
fn mixed_line() {
    let line = "203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] \"GET /a?email=jo%40ex.com&tok=1 HTTP/1.1\" 200 2326 \"-\" \"Mozilla/5.0 Chrome/120.0.6099.109\"";
    assert_eq!(
        run(line),
        vec![
            ("ipv4", "203.0.113.9".to_string()),
            ("email", "jo%40ex.com".to_string())
        ]
    );
}

fn interesting_bytes() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> =
        b"0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ:.-@%+ ()/=&;\"'\\_#,eyJ\n\xff".to_vec();
    prop::collection::vec(prop::sample::select(alphabet), 0..80)
}

proptest! {
    #[test]
    fn checks_never_panic_on_any_span(hay in prop::collection::vec(any::<u8>(), 0..64), a in 0usize..64, b in 0usize..64) {
        let (s, e) = (a.min(b).min(hay.len()), a.max(b).min(hay.len()));
        for d in BUILTINS {
            // the engine only passes non-empty spans, but even empty ones must not panic
            match (d.check)(&hay, s..e) {
                Verdict::Reject(r) => prop_assert!(r > s),
                Verdict::Accept(x) => prop_assert!(x.start <= x.end && x.end <= hay.len()),
            }
        }
    }

    #[test]
    fn checks_never_panic_on_interesting_spans(hay in interesting_bytes(), a in 0usize..80, b in 0usize..80) {
        let (s, e) = (a.min(b).min(hay.len()), a.max(b).min(hay.len()));
        for d in BUILTINS {
            match (d.check)(&hay, s..e) {
                Verdict::Reject(r) => prop_assert!(r > s),
                Verdict::Accept(x) => prop_assert!(x.start <= x.end && x.end <= hay.len()),
            }
        }
    }

    #[test]
    fn engine_loop_never_panics(hay in interesting_bytes()) {
        let _ = run_bytes(&hay);
    }
}

/// Ordinary log text that holds no personal data.
const BENIGN: &[&str] = &[
    "2023-10-15T12:30:45.123456Z INFO request_id=7f3e2a1b-9c4d-4e5f-8a6b-0c1d2e3f4a5b took 123ms",
    "[10/Oct/2000:13:55:36 -0700] \"GET /static/app.min.js?v=20231015 HTTP/1.1\" 304 0",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 Author: build bot",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "pod web-7d4b9c8f6-x2x9z restarted 3 times, image nginx:1.25.3-alpine",
    "java.lang.NullPointerException at com.example.Foo.bar(Foo.java:123)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "elapsed=0.004123s bytes_sent=1048576 rss=123456789 ts=1700000000123",
    "order ORD-2023-000123 total 149.99 GBP qty 3 sku AB-1234-XY",
    "upstream: backend:8080 (1.2.3) v2.4.6.8 build 1.3.6.1.4.1.311",
    "std::vector<int>::iterator Foo::bar() a::b c::d",
    "level=warn msg=\"retrying\" attempt=2 backoff=250ms host=db-1.internal",
    "tokenizer=bpe keyboard=us filename=report.pdf hostname=web1 compass=north",
    "Basic authentication required; Bearer realm=\"api\"",
    "GET /api/v1/users/123/orders?page=2&limit=50&sort=desc",
    "duration 00:01:23.456 at 2023/10/15 12:30:45 +0000",
    "MP4 X11 HTTP/2 ISO 9001 UTF-8 SHA1 H264 A4 B2B",
    "mac=00:1a:2b:3c:4d:5e vlan=100 port=eth0",
    "id=0x7ffd5e8b9a10 errno=-2 pid 4242 uid 1000",
    "temperature 21.5C humidity 45% pressure 1013.25hPa",
];

#[test]
fn every_check_survives_every_short_span_of_tricky_text() {
    // exhaustive over all spans of a few haystacks built from the detectors' own syntax
    let hays: [&[u8]; 4] = [
        b"+44(0)%2B44 0-( )::1%25e:1.2.3.4@a.b\\u0040x%3Dy",
        b"GB82 WEST 1234 eyJ.eyJ. Bearer Basic Digest a=\"b\", c=\\\"d",
        b"sort code 20-00-00 acct no 12345678 VAT GBGD001 AB123456C SW1A 1AA",
        b"\xff\x00:%:.@\\\"'=&;, \t\n",
    ];
    for hay in hays {
        for s in 0..=hay.len() {
            for e in s..=hay.len() {
                for d in BUILTINS {
                    match (d.check)(hay, s..e) {
                        Verdict::Reject(r) => assert!(r > s, "{}", d.name),
                        Verdict::Accept(x) => assert!(x.start <= x.end && x.end <= hay.len()),
                    }
                }
            }
        }
    }
}

#[test]
fn benign_lines_stay() {
    for line in BENIGN {
        none(line);
    }
}
