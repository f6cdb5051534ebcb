//! Leak properties: personal data planted anywhere in a line, in any format and written in
//! any of its forms, never comes out; look-alikes that are not personal data do.

use proptest::prelude::*;

use redactd::format::Format;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::{Redactor, Scratch};
use redactd::rules::RuleSet;

fn redactor() -> &'static Redactor {
    static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        Redactor::new(
            &RuleSet::shipped(),
            Some(Pseudonymiser::new(&Key::from_bytes([5; 32]))),
        )
        .unwrap()
    })
}

fn redact(line: &str, format: Format) -> String {
    thread_local!(static S: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) });
    S.with(|s| {
        let mut s = s.borrow_mut();
        let s = s.get_or_insert_with(|| redactor().scratch());
        let mut out = Vec::new();
        redactor().redact_line(line.as_bytes(), format, &mut out, s);
        String::from_utf8(out).unwrap()
    })
}

fn luhn_complete(digits: &str) -> String {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

fn iban_gb(bank: &str, digits: &str) -> String {
    let rearranged = format!("{bank}{digits}GB00");
    let rem = rearranged.bytes().fold(0u32, |r, b| match b {
        b'0'..=b'9' => (r * 10 + u32::from(b - b'0')) % 97,
        _ => (r * 100 + u32::from(b - b'A') + 10) % 97,
    });
    format!("GB{:02}{bank}{digits}", 98 - rem)
}

/// A planted value and the forms of it that must not appear in the output.
#[derive(Debug, Clone)]
struct Pii {
    written: String,
    forbidden: Vec<String>,
}

fn email() -> impl Strategy<Value = Pii> {
    (
        "[a-z][a-z0-9]{1,8}(\\.[a-z]{2,6})?(\\+[a-z]{1,5})?",
        "[a-z]{3,9}",
        prop::sample::select(vec!["com", "org", "co.uk", "net", "io"]),
        0..4usize,
    )
        .prop_map(|(local, host, tld, form)| {
            let plain = format!("{local}@{host}.{tld}");
            let written = match form {
                0 => plain.clone(),
                1 => plain.replace('@', "%40"),
                2 => plain.to_uppercase(),
                _ => plain.replace('@', "\\u0040"),
            };
            Pii {
                forbidden: vec![
                    plain.clone(),
                    written.clone(),
                    format!("{local}@"),
                    format!("{local}%40"),
                ],
                written,
            }
        })
}

fn ipv4() -> impl Strategy<Value = Pii> {
    (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254).prop_map(|(a, b, c, d)| {
        let ip = format!("{a}.{b}.{c}.{d}");
        Pii {
            written: ip.clone(),
            forbidden: vec![ip],
        }
    })
}

fn ipv6() -> impl Strategy<Value = Pii> {
    (0x2001u16..0x2c00, any::<[u16; 7]>()).prop_map(|(first, rest)| {
        let ip = std::net::Ipv6Addr::new(
            first,
            rest[0],
            rest[1],
            rest[2],
            rest[3],
            rest[4],
            rest[5] | 1,
            rest[6] | 0x100,
        );
        let text = ip.to_string();
        Pii {
            written: text.clone(),
            forbidden: vec![text],
        }
    })
}

fn card() -> impl Strategy<Value = Pii> {
    ("4[0-9]{14}", any::<bool>()).prop_map(|(prefix, dashed)| {
        let number = luhn_complete(&prefix);
        let written = if dashed {
            number
                .as_bytes()
                .chunks(4)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("-")
        } else {
            number.clone()
        };
        Pii {
            forbidden: vec![number[..12].to_string(), written.clone()],
            written,
        }
    })
}

fn phone() -> impl Strategy<Value = Pii> {
    ("7[0-9]{3}", "[0-9]{6}", 0..3usize).prop_map(|(a, b, form)| {
        let written = match form {
            0 => format!("0{a} {b}"),
            1 => format!("+44{a}{b}"),
            _ => format!("%2B44{a}{b}"),
        };
        Pii {
            forbidden: vec![format!("{a}{b}"), format!("{a} {b}")],
            written,
        }
    })
}

fn phone_nanp() -> impl Strategy<Value = Pii> {
    ("[2-9][02-9][0-9]", "[0-9]{3}", "[0-9]{4}", 0..4usize).prop_map(|(a, b, c, form)| {
        let written = match form {
            0 => format!("({a}) {b}-{c}"),
            1 => format!("{a}-{b}-{c}"),
            2 => format!("{a}.{b}.{c}"),
            _ => format!("%28{a}%29%20{b}-{c}"),
        };
        Pii {
            forbidden: vec![format!("{b}-{c}"), format!("{b}.{c}")],
            written,
        }
    })
}

fn iban() -> impl Strategy<Value = Pii> {
    (
        prop::sample::select(vec!["NWBK", "BARC", "HBUK"]),
        "[0-9]{14}",
    )
        .prop_map(|(bank, digits)| {
            let iban = iban_gb(bank, &digits);
            Pii {
                forbidden: vec![iban.clone(), digits[..10].to_string()],
                written: iban,
            }
        })
}

fn pii() -> impl Strategy<Value = Pii> {
    prop_oneof![
        email(),
        ipv4(),
        ipv6(),
        card(),
        phone(),
        phone_nanp(),
        iban()
    ]
}

fn filler() -> impl Strategy<Value = String> {
    "[a-z]{0,8}( [a-z]{1,8}){0,3}"
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![" ", "=", ": ", " (", "\t", ", ", "&q="])
}

fn assert_gone(out: &str, pii: &Pii) -> Result<(), TestCaseError> {
    for f in &pii.forbidden {
        prop_assert!(!out.contains(f.as_str()), "{f:?} left in {out:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn planted_value_never_survives_in_text(pii in pii(), before in filler(), after in filler(), sep in separator()) {
        let line = format!("{before}{sep}{} {after}", pii.written);
        assert_gone(&redact(&line, Format::Text), &pii)?;
    }

    #[test]
    fn planted_value_never_survives_in_a_json_string(pii in pii(), before in filler(), key in "[a-z]{1,8}") {
        let line = format!(r#"{{"{key}":"{before} {}","n":1}}"#, pii.written);
        let out = redact(&line, Format::Auto);
        assert_gone(&out, &pii)?;
        prop_assert!(out.starts_with(&format!(r#"{{"{key}":""#)), "{out}");
    }

    #[test]
    fn planted_value_never_survives_in_an_access_log_query_or_agent(pii in pii(), param in "[a-z]{1,6}", in_agent in any::<bool>()) {
        let (target, agent) = if in_agent {
            ("/index.html".to_string(), format!("Mozilla/5.0 (contact {})", pii.written))
        } else {
            (format!("/search?{param}={}&page=2", pii.written), "curl/8.5.0".to_string())
        };
        let line = format!(r#"198.51.100.7 - - [10/Oct/2023:13:55:36 +0000] "GET {target} HTTP/1.1" 200 5 "-" "{agent}""#);
        let out = redact(&line, Format::Auto);
        assert_gone(&out, &pii)?;
        prop_assert!(out.contains("[10/Oct/2023:13:55:36 +0000]"), "{out}");
    }

    #[test]
    fn planted_value_never_survives_in_a_syslog_message(pii in pii(), before in filler()) {
        let line = format!("Oct 10 13:55:36 web-1 app[42]: {before} {}", pii.written);
        let out = redact(&line, Format::Auto);
        assert_gone(&out, &pii)?;
        prop_assert!(out.starts_with("Oct 10 13:55:36 web-1 app[42]: "), "{out}");
    }

    #[test]
    fn version_strings_uuids_and_luhn_failing_numbers_survive(
        a in 1u8..200, b in 0u8..200, c in 0u16..9999, d in 0u8..200,
        uuid in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        prefix in "4[0-9]{14}",
    ) {
        let good = luhn_complete(&prefix);
        let last = good.as_bytes()[15] - b'0';
        let bad = format!("{}{}", &good[..15], (last + 1) % 10);
        let line = format!("Chrome/{a}.{b}.{c}.{d} zlib/{a}.{b}.{d}.{d} id={uuid} n={bad}");
        prop_assert_eq!(redact(&line, Format::Text), line);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Pseudonyms depend on the key only: a warm scratch, one that forgot what it
    /// remembered, and a second redactor built from the same key all write the same line.
    #[test]
    fn pseudonyms_are_stable_for_one_key_whatever_the_caches(
        pii in proptest::collection::vec(pii(), 1..4),
        before in filler(),
    ) {
        let line = format!("{before} {}", pii.iter().map(|p| p.written.as_str()).collect::<Vec<_>>().join(" and "));
        let warm = redact(&line, Format::Text);
        let again = redact(&line, Format::Text);
        static OTHER: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
        let other = OTHER.get_or_init(|| {
            Redactor::new(
                &RuleSet::shipped(),
                Some(Pseudonymiser::new(&Key::from_bytes([5; 32]))),
            )
            .unwrap()
        });
        let mut s = other.scratch();
        let mut cold = Vec::new();
        other.redact_line(line.as_bytes(), Format::Text, &mut cold, &mut s);
        s.forget_remembered();
        let mut forgot = Vec::new();
        other.redact_line(line.as_bytes(), Format::Text, &mut forgot, &mut s);
        prop_assert_eq!(&warm, &again);
        prop_assert_eq!(&warm, &String::from_utf8(cold).unwrap());
        prop_assert_eq!(&warm, &String::from_utf8(forgot).unwrap());
    }
}
