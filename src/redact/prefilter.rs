//! A necessary condition for any built-in detector to match, cheap enough to run before the
//! regex search: most clean text fails it and costs one pass over its bytes.
//!
//! Every built-in pattern needs at least one of these in its match: a digit, `@`, `%`, `\`,
//! `:` or `=` (numbers, e-mail in all its forms, IPv6, URLs, `name=value` and `name: value`
//! secrets), or one of the words `Bearer`/`Basic` (bare credentials, in the three casings
//! the `auth_header` pattern accepts), `eyJ` (JWTs), the prefixes of service tokens
//! (`AKIA`, `ghp_`, `xoxb-`, `sk_live_`, …), or the phrases that introduce a login
//! name in system logs (`Accepted `, `Invalid user `, `for user `, `/home/`, …). A test checks this against the
//! patterns on generated text; when a detector changes, that test says whether this list
//! must change too.
//!
//! The byte test works on eight bytes at a time (SWAR): `x ^ 0x30` maps `0`–`9` to 0–9 and
//! `:`…`=` to 10–13, so one "some byte below 14" test covers digits, `:` and `=` (and the
//! harmless `;` and `<`); `@`, `%` and `\` get a "some byte equals" test each.

use aho_corasick::AhoCorasick;

/// Words whose presence means a built-in pattern may match.
const TRIGGER_WORDS: &[&str] = &[
    "Bearer",
    "bearer",
    "BEARER",
    "Basic",
    "basic",
    "BASIC",
    "eyJ",
    // service tokens by prefix (`api_token`)
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxo-",
    "xoxs-",
    "xoxr-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "AIza",
    "SG.",
    "npm_",
    // login names in system logs (`login_user`)
    "Accepted ",
    "Failed ",
    "Postponed ",
    "nvalid user ",
    "llegal user ",
    "for user ",
    "of user ",
    "/home/",
];

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The prefilter: a SWAR byte test and a small (SIMD-searched) set of literals.
pub(super) struct Prefilter {
    words: AhoCorasick,
}

impl Prefilter {
    pub(super) fn new() -> Self {
        let words = AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(TRIGGER_WORDS)
            .expect("a handful of literals always builds");
        Prefilter { words }
    }

    /// False only when no built-in pattern can match anywhere in `hay`.
    pub(super) fn may_match(&self, hay: &[u8]) -> bool {
        has_trigger_byte(hay) || self.words.is_match(hay)
    }
}

/// Whether `hay` holds a digit, `:`, `=`, `@`, `%` or `\` (or the harmless `;`, `<`).
fn has_trigger_byte(hay: &[u8]) -> bool {
    let mut chunks = hay.chunks_exact(8);
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("chunks of eight"));
        if word_has_trigger(x) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| is_trigger(b))
}

fn word_has_trigger(x: u64) -> bool {
    // Bytes >= 0x80 never count: mask them out of the "below" test.
    let ascii = !x & HIGH;
    let y = x ^ (0x30 * LOW);
    let below_14 = y.wrapping_sub(14 * LOW) & !y & HIGH & ascii;
    below_14 != 0 || has_byte(x, b'@') || has_byte(x, b'%') || has_byte(x, b'\\')
}

/// Whether some byte of `x` equals `b`.
fn has_byte(x: u64, b: u8) -> bool {
    let v = x ^ (u64::from(b) * LOW);
    v.wrapping_sub(LOW) & !v & HIGH != 0
}

fn is_trigger(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b':' | b';' | b'<' | b'=' | b'@' | b'%' | b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::detect::BUILTINS;
    use proptest::prelude::*;
    use regex_automata::{meta, util::syntax};

    fn builtin_regex() -> &'static meta::Regex {
        static REGEX: std::sync::OnceLock<meta::Regex> = std::sync::OnceLock::new();
        REGEX.get_or_init(|| {
            let patterns: Vec<&str> = BUILTINS.iter().map(|b| b.pattern).collect();
            meta::Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build_many(&patterns)
                .unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whenever any built-in pattern finds a candidate, the prefilter lets it through.
        #[test]
        fn prefilter_never_hides_a_candidate(
            text in r"([a-zA-Z .,;:=@%+/\\_-]|[0-9]|bearer |Basic |BEARER |eyJ|Authorization|Accepted password for |Invalid user |session opened for user |/home/| by |user=|password|WHMCSAU|sid){0,40}"
        ) {
            let re = builtin_regex();
            if re.is_match(text.as_bytes()) {
                prop_assert!(Prefilter::new().may_match(text.as_bytes()), "{text:?}");
            }
        }
    }

    proptest! {
        /// The eight-at-a-time test agrees with the byte-at-a-time definition.
        #[test]
        fn swar_byte_test_matches_the_plain_one(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(has_trigger_byte(&bytes), bytes.iter().any(|&b| is_trigger(b)));
        }
    }

    #[test]
    fn clean_prose_fails_the_prefilter_and_bare_credentials_pass_it() {
        let p = Prefilter::new();
        assert!(!p.may_match(b"The quick brown fox jumps over the lazy dog, again."));
        assert!(p.may_match(b"sent BEARER abcdefghijklmnopqrstuvwxyzABCD"));
        assert!(!p.may_match("naïve café über".as_bytes()));
        assert!(p.may_match(b"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"));
        assert!(p.may_match(b"order 7"));
    }
}
