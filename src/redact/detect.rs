//! Built-in detectors: for each kind of personal data, a regex that finds candidates and a
//! check that confirms them (checksums, ranges, context), so look-alikes survive.
//!
//! The engine compiles every detector's `pattern` into one multi-pattern regex (ASCII mode:
//! `unicode(false)`, `utf8(false)`, so `\b` is an ASCII word boundary and classes never
//! match non-ASCII), searches leftmost-first, and calls `check` on each candidate. A
//! detector does no I/O and never allocates on the accept path.

use std::ops::Range;

/// What a detector's check says about one candidate match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The candidate is personal data; the span (possibly narrowed or widened within the
    /// haystack) is the part to transform.
    Accept(Range<usize>),
    /// Not personal data. The search resumes at this offset (greater than the candidate's
    /// start), so a detector can skip ahead past text it knows holds no match.
    Reject(usize),
}

/// The kind of value a detector finds: decides how it is normalised for pseudonyms and
/// what `truncate` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// An e-mail address (raw, `%40` or `\u0040` forms).
    Email,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A telephone number.
    Phone,
    /// A payment card number.
    Card,
    /// An IBAN.
    Iban,
    /// A UK sort code with account number.
    BankAccount,
    /// A GB VAT registration number.
    VatNumber,
    /// A UK National Insurance number.
    NationalInsurance,
    /// A UK postcode.
    Postcode,
    /// A credential: token, password, session id, cookie value.
    Secret,
    /// A person's name or user name.
    Name,
    /// Anything else (custom rules).
    Other,
}

/// A built-in detector.
pub struct Builtin {
    /// The name rule files use in `detector = "..."`.
    pub name: &'static str,
    /// The kind of value it finds.
    pub kind: ValueKind,
    /// Candidate regex (regex-automata syntax, ASCII mode). A capture group named `value`,
    /// if present, marks the part of the match that is transformed (e.g. the value after
    /// `password=`); otherwise the whole match is.
    pub pattern: &'static str,
    /// Confirms or rejects a candidate. `span` is the match (or the `value` group) in `hay`.
    pub check: fn(hay: &[u8], span: Range<usize>) -> Verdict,
}

/// Accepts every candidate as found.
pub fn accept_all(_hay: &[u8], span: Range<usize>) -> Verdict {
    Verdict::Accept(span)
}

/// Every built-in detector, in the order the shipped rules use them.
///
/// Order matters: all patterns share one leftmost-first search, so at one start offset the
/// earlier pattern wins. Secrets and labelled forms come first, then the more specific
/// shapes, and the loosest shapes (IP addresses, postcodes) last.
pub static BUILTINS: &[Builtin] = &[
    Builtin {
        name: "jwt",
        kind: ValueKind::Secret,
        pattern: JWT,
        check: check_jwt,
    },
    Builtin {
        name: "api_token",
        kind: ValueKind::Secret,
        pattern: API_TOKEN,
        check: check_api_token,
    },
    Builtin {
        name: "auth_header",
        kind: ValueKind::Secret,
        pattern: AUTH_HEADER,
        check: check_auth_header,
    },
    Builtin {
        name: "url_password",
        kind: ValueKind::Secret,
        pattern: URL_PASSWORD,
        check: accept_all,
    },
    Builtin {
        name: "cookie_value",
        kind: ValueKind::Secret,
        pattern: COOKIE_VALUE,
        check: check_cookie_value,
    },
    Builtin {
        name: "secret_param",
        kind: ValueKind::Secret,
        pattern: SECRET_PARAM,
        check: check_secret_param,
    },
    Builtin {
        name: "name_param",
        kind: ValueKind::Name,
        pattern: NAME_PARAM,
        check: check_name_param,
    },
    Builtin {
        name: "login_user",
        kind: ValueKind::Name,
        pattern: LOGIN_USER,
        check: check_login_user,
    },
    Builtin {
        name: "uk_bank_account",
        kind: ValueKind::BankAccount,
        pattern: UK_BANK_ACCOUNT,
        check: check_uk_bank_account,
    },
    Builtin {
        name: "email",
        kind: ValueKind::Email,
        pattern: EMAIL,
        check: check_email,
    },
    Builtin {
        name: "iban",
        kind: ValueKind::Iban,
        pattern: IBAN,
        check: check_iban,
    },
    Builtin {
        name: "vat_gb",
        kind: ValueKind::VatNumber,
        pattern: VAT_GB,
        check: check_vat_gb,
    },
    Builtin {
        name: "nino",
        kind: ValueKind::NationalInsurance,
        pattern: NINO,
        check: check_nino,
    },
    Builtin {
        name: "card",
        kind: ValueKind::Card,
        pattern: CARD,
        check: check_card,
    },
    Builtin {
        name: "phone_uk",
        kind: ValueKind::Phone,
        pattern: PHONE_UK,
        check: check_phone_uk,
    },
    Builtin {
        name: "phone_intl",
        kind: ValueKind::Phone,
        pattern: PHONE_INTL,
        check: check_phone_intl,
    },
    Builtin {
        name: "phone_nanp",
        kind: ValueKind::Phone,
        pattern: PHONE_NANP,
        check: check_phone_nanp,
    },
    Builtin {
        name: "ipv6",
        kind: ValueKind::Ip,
        pattern: IPV6,
        check: check_ipv6,
    },
    Builtin {
        name: "ipv4",
        kind: ValueKind::Ip,
        pattern: IPV4,
        check: check_ipv4,
    },
    Builtin {
        name: "postcode_uk",
        kind: ValueKind::Postcode,
        pattern: POSTCODE_UK,
        check: check_postcode_uk,
    },
];

/// Looks a built-in detector up by name.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

// ───────────────────────────── patterns ─────────────────────────────

/// `eyJ…` header, `eyJ…` payload, base64url signature (may be empty).
const JWT: &str = r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*";

/// Access keys and tokens of well-known services, by their published prefixes: AWS access
/// key ids, GitHub, GitLab, Slack, Stripe, Google API keys, SendGrid and npm. Lengths are
/// checked in [`check_api_token`] (patterns stay unbounded: bounded repetitions blow up the
/// lazy DFA).
const API_TOKEN: &str = concat!(
    r"\b(?:(?:AKIA|ASIA)[A-Z0-9]+|gh[pousr]_[A-Za-z0-9]+|github_pat_[A-Za-z0-9_]+",
    r"|glpat-[A-Za-z0-9_-]+|xox[abposr]-[A-Za-z0-9-]+|[rs]k_(?:live|test)_[A-Za-z0-9]+",
    r"|AIza[A-Za-z0-9_-]+|SG\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+|npm_[A-Za-z0-9]+)",
);

/// The published length of each token kind (or its least), and nothing glued after it.
fn check_api_token(hay: &[u8], span: Range<usize>) -> Verdict {
    let t = &hay[span.clone()];
    let len = t.len();
    let ok = match t {
        _ if t.starts_with(b"AKIA") || t.starts_with(b"ASIA") => len == 20,
        _ if t.starts_with(b"github_pat_") => len >= 40,
        _ if t.starts_with(b"gh") => len == 40,
        _ if t.starts_with(b"glpat-") => len >= 24,
        _ if t.starts_with(b"xox") => len >= 15,
        _ if t.starts_with(b"sk_") || t.starts_with(b"rk_") => len >= 20,
        _ if t.starts_with(b"AIza") => len == 39,
        _ if t.starts_with(b"SG.") => len >= 30,
        _ => len == 40, // npm_
    };
    if ok && !at(hay, span.end).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Verdict::Accept(span)
    } else {
        Verdict::Reject(span.end.max(span.start + 1))
    }
}

/// `Authorization: [scheme] credential` (header, JSON key, log field) or a bare
/// `Bearer <token>` / `Basic <base64>` (written `Bearer`, `bearer` or `BEARER`, which the
/// prefilter in `prefilter.rs` looks for); the credential is `value`.
const AUTH_HEADER: &str = concat!(
    r#"(?:(?i:\b(?:proxy-)?authorization)["']?[ \t]*[:=][ \t]*["']?"#,
    r"(?:(?i:bearer|basic|digest|negotiate|token|apikey|api-key)[ \t]+)?",
    r"|\b(?:[Bb]earer|BEARER|[Bb]asic|BASIC)[ \t]+)",
    r#"(?P<value>[^\s"',;&]+)"#,
);

/// `scheme://user:PASSWORD@host`; the password is `value`.
const URL_PASSWORD: &str = r#"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:"']*:(?P<value>[^\s/?#:"']+)@"#;

/// Sensitive cookies: every `WHMCS*` cookie (case-sensitive) and common session cookies.
const COOKIE_VALUE: &str = concat!(
    r"(?:\bWHMCS[A-Za-z0-9_]*|(?i:\b(?:PHPSESSID|JSESSIONID|ASP\.NET_SessionId|connect\.sid",
    r"|laravel_session|sessionid|session|sid|_session_id|remember_token|csrftoken)))",
    r#"="?(?P<value>[^;\s",]+)"#,
);

/// `name=value`, `name: value`, `"name":"value"`, `name%3Dvalue` for secret-ish names.
const SECRET_PARAM: &str = concat!(
    r"(?i:(?:\b|%26|%3F|%20)(?:[A-Za-z0-9]+[_-])*",
    r"(?:password|passwd|pwd|pass|passphrase|secret|client_secret|clientsecret|token",
    r"|access_token|accesstoken|refresh_token|refreshtoken|id_token|idtoken|auth|auth_token",
    r"|authtoken|api_key|apikey|api-key|private_key|privatekey|secret_key|secretkey",
    r"|secret_access_key|session|sessionid|session_id|sid|phpsessid|jsessionid|csrf",
    r"|csrftoken|csrf_token|xsrf-token|xsrf_token|otp|pin|cvv|cvc|signature|sig",
    r"|x-amz-signature|credential|credentials))",
    r#"(?:\\?["'])?(?:[ \t]*:[ \t]*|[ \t]+=[ \t]+|=|%3[Dd])(?:\\?["'])?"#,
    r#"(?P<value>[^\s&;,"'\\}]+)"#,
);

/// Login names in system logs (sshd, PAM, sudo, su, home directories); the name is
/// `value`. The check drops well-known system accounts and non-log contexts.
const LOGIN_USER: &str = concat!(
    r"(?:\b(?:Accepted|Failed|Postponed) (?:password|publickey|keyboard-interactive/pam|none|hostbased|gssapi-with-mic) for (?:invalid user |illegal user )?",
    r"|\b(?:[Ii]nvalid|[Ii]llegal) user ",
    r"|\bsession (?:opened|closed) for user ",
    r"|\b(?:for|of) user ",
    r"|\b(?:ruser|logname|user)=",
    r"|/home/)",
    r"(?P<value>[A-Za-z_][A-Za-z0-9._-]*)",
    r"|\b[A-Za-z_][A-Za-z0-9._-]* : (?:TTY=|[0-9]+ incorrect password attempt)",
    r"|\bby [A-Za-z_][A-Za-z0-9._-]*\(uid=",
);

/// Query/form parameters naming a person; the value is `value`.
const NAME_PARAM: &str = concat!(
    r"(?i:\b(?:name|fullname|full_name|first_name|firstname|last_name|lastname|surname",
    r"|username|user_name|login|given_name|family_name|contact_name|customer_name))",
    r#"=(?P<value>[^&\s"]+)"#,
);

/// Sort code + account number; labelled sort code; labelled account number. The check
/// narrows the span to the digits, so labels stay.
const UK_BANK_ACCOUNT: &str = concat!(
    r#"(?i:\bsort[ _-]?codes?)[ \t"':=#]*[0-9]{2}[ -]?[0-9]{2}[ -]?[0-9]{2}"#,
    r"(?:(?:[ /,]|,? (?i:account|acct|acc|a/c)(?: (?i:no|number))?\.?:? )[0-9]{8})?\b",
    r"|(?i:\b(?:account|acct|acc)[ _-]?(?:number|num|no|nr|\#)\.?|\ba/c(?: ?no\.?)?)",
    r#"[ \t"':=#]*[0-9]{8}\b"#,
    r"|\b[0-9]{2}-[0-9]{2}-[0-9]{2}",
    r"(?:[ /,]|,? (?i:account|acct|acc|a/c)(?: (?i:no|number))?\.?:? )[0-9]{8}\b",
);

/// Local part, `@` / `%40` / `\u0040`, labels, alphabetic TLD; local parts and labels may
/// hold UTF-8 (`jürgen@müller.de`, RFC 6531). Hosts without a TLD
/// (`user@localhost`) and IP-literal hosts (`a@1.2.3.4`) are not e-mail candidates; the
/// IPv4 detector still finds the address in the latter.
const EMAIL: &str = concat!(
    r"[A-Za-z0-9._%+\x80-\xFF-]+(?:@|%40|\\u0040)",
    r"(?:[A-Za-z0-9\x80-\xFF-]+\.)+[A-Za-z]{2,24}\b",
);

/// Country, check digits, then BBAN contiguous or in space-separated groups of four.
const IBAN: &str = concat!(
    r"\b[A-Za-z]{2}[0-9]{2}",
    r"(?:[A-Za-z0-9]{11,30}\b|(?:[ +][A-Za-z0-9]{4}){2,7}(?:[ +][A-Za-z0-9]{1,4})?)",
);

/// `GB` + 9 or 12 digits, `GBGD`/`GBHA` + 3 digits, or a `VAT`-labelled 9-digit number.
const VAT_GB: &str = concat!(
    r"\b(?i:GB) ?(?:[0-9]{3} ?[0-9]{4} ?[0-9]{2}(?: ?[0-9]{3})?|(?i:GD|HA)[0-9]{3})\b",
    r"|(?i:\bVAT(?:[ _-]?(?:registration|reg|number|num|no|nr|id))*)\.?",
    r#"[ \t"':=#]*(?:(?i:GB) ?)?[0-9]{3} ?[0-9]{4} ?[0-9]{2}\b"#,
);

/// Two prefix letters, three pairs of digits, suffix A–D, optional single spaces.
const NINO: &str =
    r"(?i:\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b)";

/// 13–19 digits contiguous, in groups of four, or 4-6-5 / 4-6-4 (Amex, Diners).
const CARD: &str = concat!(
    r"\b(?:[2-6][0-9]{12,18}",
    r"|[2-6][0-9]{3}(?:[ +-][0-9]{4}){2}[ +-][0-9]{1,4}(?:[ +-][0-9]{1,3})?",
    r"|3[0-9]{3}[ +-][0-9]{6}[ +-][0-9]{4,5})\b",
);

/// UK numbers: the group shapes Ofcom numbers are written in (national, `(0…)`,
/// `+44`/`%2B44` with optional `(0)`); `+` is accepted as a URL-encoded space.
const PHONE_UK: &str = concat!(
    r"(?:\+|%2[Bb]|\b00)44[ +.-]?(?:(?:\(0\)|%280%29)[ +.-]?)?(?:[1-9][0-9]{8,9}",
    r"|[1-9][0-9][ +.-][0-9]{4}[ +.-][0-9]{4}",
    r"|[1-9][0-9]{1,3}[ +.-][0-9]{3}[ +.-][0-9]{3,4}",
    r"|[1-9][0-9]{1,4}[ +.-][0-9]{4,8})",
    r"|(?:\(|%28)0[1-9][0-9]{1,4}(?:\)|%29)[ +.-]?[0-9]{3,4}[ +.-]?[0-9]{3,4}",
    r"|\b0[1-9](?:[0-9]{8,9}",
    r"|[0-9][ +.-][0-9]{4}[ +.-][0-9]{4}",
    r"|[0-9][ +.-][0-9]{8}",
    r"|[0-9]{2}[ +.-][0-9]{3}[ +.-][0-9]{3,4}",
    r"|[0-9]{2}[ +.-][0-9]{6,7}",
    r"|[0-9]{3}[ +.-][0-9]{5,6}",
    r"|[0-9]{3}[ +.-][0-9]{3}[ +.-][0-9]{3}",
    r"|[0-9]{4}[ +.-][0-9]{4,5})",
);

/// `+` or `%2B`, a country code not starting with 0, digit groups with single separators.
const PHONE_INTL: &str = r"(?:\+|%2[Bb])[1-9][0-9]*(?:[ -][0-9]+)*";

/// North American (NANP) numbers as people write them: `(NXX) XXX-XXXX`, `NXX-XXX-XXXX`,
/// `NXX.XXX.XXXX`, optionally after `1-`. The exchange may start with any digit (examples
/// and test data write `555-123-4567`). Groups separated by spaces only (`555 123 4567`)
/// are left alone: counters and sizes in logs look just like them.
const PHONE_NANP: &str = concat!(
    r"(?:1(?:[-. +]|%20)?)?(?:\(|%28)[2-9][0-9]{2}(?:\)|%29)(?:[ .-]|%20|\+)?[0-9]{3}[-. ][0-9]{4}",
    r"|(?:1[-.])?[2-9][0-9]{2}[-.][0-9]{3}[-.][0-9]{4}",
);

/// Eight groups, six groups and an IPv4 tail, or a compressed form with `::` (times and
/// MACs have neither, so they never become candidates); optional zone. `Ipv6Addr`
/// parsing decides.
const IPV6: &str = concat!(
    r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}",
    r"|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){6}(?:\.[0-9]{1,3}){3}",
    r"|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?::",
    r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*(?:(?:\.[0-9]{1,3}){3})?)?)",
    r"(?:%(?:25)?[A-Za-z0-9._~-]+)?",
);

/// Dotted quad with valid octets.
const IPV4: &str = concat!(
    r"\b(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])",
    r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}\b",
);

/// Outward code (A9, A99, AA9, AA99, A9A, AA9A) and inward code 9AA, upper case.
const POSTCODE_UK: &str = concat!(
    r"\b(?:[A-Z]{1,2}[0-9][0-9A-Z]?(?: |\+|%20)?[0-9][ABD-HJLNP-UW-Z]{2}|GIR(?: |\+|%20)?0AA)\b",
    // typed into a form in lower case: only as a whole parameter value
    r"|=(?P<value>[a-z]{1,2}[0-9][0-9a-z]?(?:\+|%20)?[0-9][abd-hjlnp-uw-z]{2})(?:&|\b)",
);

// ───────────────────────────── small helpers ─────────────────────────────

/// An ASCII word byte, as `\b` sees it.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The byte before offset `i`, if any.
fn before(hay: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| hay.get(j).copied())
}

/// The byte at offset `i`, if any.
fn at(hay: &[u8], i: usize) -> Option<u8> {
    hay.get(i).copied()
}

/// The first offset at or after `i` whose byte does not satisfy `pred`.
fn skip_while(hay: &[u8], mut i: usize, pred: impl Fn(u8) -> bool) -> usize {
    while i < hay.len() && pred(hay[i]) {
        i += 1;
    }
    i
}

/// Whether `hay[..end]` ends with `suffix`, ASCII case-insensitively.
fn ends_with_ci(hay: &[u8], end: usize, suffix: &[u8]) -> bool {
    end <= hay.len()
        && end >= suffix.len()
        && hay[end - suffix.len()..end].eq_ignore_ascii_case(suffix)
}

/// Whether `hay[i..]` starts with `prefix`, ASCII case-insensitively.
fn starts_with_ci(hay: &[u8], i: usize, prefix: &[u8]) -> bool {
    i <= hay.len()
        && hay.len() - i >= prefix.len()
        && hay[i..i + prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether byte `i` is `sep` followed by a digit (`.5`, `:30`, `-2`).
fn sep_then_digit(hay: &[u8], i: usize, sep: u8) -> bool {
    at(hay, i) == Some(sep) && at(hay, i + 1).is_some_and(|b| b.is_ascii_digit())
}

/// Collects the decimal digits of `hay[span]` into `out`; returns how many (at most
/// `out.len()`; more digits make the count exceed it so callers can reject).
fn collect_digits(hay: &[u8], span: Range<usize>, out: &mut [u8]) -> usize {
    let mut n = 0;
    for &b in &hay[span] {
        if b.is_ascii_digit() {
            if n < out.len() {
                out[n] = b - b'0';
            }
            n += 1;
        }
    }
    n
}

// ───────────────────────────── secrets ─────────────────────────────

/// JWTs are accepted as found; the shape (`eyJ` twice) is specific enough.
fn check_jwt(_hay: &[u8], span: Range<usize>) -> Verdict {
    Verdict::Accept(span)
}

/// Authorization schemes whose name alone must never be taken as the credential.
const AUTH_SCHEMES: &[&[u8]] = &[
    b"bearer",
    b"basic",
    b"digest",
    b"negotiate",
    b"token",
    b"apikey",
    b"api-key",
];

/// Whether `hay[..pos]`, skipping separators, ends with an `Authorization` header name.
fn preceded_by_auth_label(hay: &[u8], pos: usize) -> bool {
    let mut p = pos;
    while p > 0 && matches!(hay[p - 1], b' ' | b'\t' | b'"' | b'\'' | b':' | b'=') {
        p -= 1;
    }
    ends_with_ci(hay, p, b"authorization")
}

/// The scheme word directly before `pos` (skipping blanks): `(start, word)`.
fn scheme_before(hay: &[u8], pos: usize) -> Option<(usize, &[u8])> {
    let mut p = pos;
    while p > 0 && matches!(hay[p - 1], b' ' | b'\t') {
        p -= 1;
    }
    let end = p;
    while p > 0 && (hay[p - 1].is_ascii_alphabetic() || hay[p - 1] == b'-') {
        p -= 1;
    }
    let word = &hay[p..end];
    AUTH_SCHEMES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(word))
        .then_some((p, word))
}

/// The end of a Digest parameter list (`k=v, k="v", …`) starting at `i`.
fn digest_params_end(hay: &[u8], mut i: usize) -> usize {
    let mut end = i;
    loop {
        let k = skip_while(hay, i, |b| {
            b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
        });
        if k == i || at(hay, k) != Some(b'=') {
            break;
        }
        let v = k + 1;
        let close = if at(hay, v) == Some(b'"') {
            match hay[v + 1..].iter().position(|&b| b == b'"' || b == b'\n') {
                Some(q) if hay[v + 1 + q] == b'"' => v + 2 + q,
                _ => break,
            }
        } else if at(hay, v) == Some(b'\\') && at(hay, v + 1) == Some(b'"') {
            match hay[v + 2..].windows(2).position(|w| w == b"\\\"") {
                Some(q) => v + 4 + q,
                None => break,
            }
        } else {
            let e = skip_while(hay, v, |b| {
                !b.is_ascii_whitespace() && !matches!(b, b',' | b'"' | b'\\')
            });
            if e == v {
                break;
            }
            e
        };
        end = close;
        if at(hay, close) != Some(b',') {
            break;
        }
        i = skip_while(hay, close + 1, |b| b == b' ' || b == b'\t');
    }
    end
}

/// Whether `tok` is base64 whose decoding contains a `:` (a `user:password` pair).
fn base64_has_colon(tok: &[u8]) -> bool {
    fn val(b: u8) -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let body = tok.split(|&b| b == b'=').next().unwrap_or(tok);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in body {
        let Some(v) = val(b) else { return false };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if (acc >> bits) & 0xff == u32::from(b':') {
                return true;
            }
            acc &= (1 << bits) - 1;
        }
    }
    false
}

/// Whether a bare `Bearer` token looks like a credential rather than an English word.
fn looks_like_token(tok: &[u8]) -> bool {
    let digit = tok.iter().any(|b| b.is_ascii_digit());
    let upper = tok.iter().any(|b| b.is_ascii_uppercase());
    let lower = tok.iter().any(|b| b.is_ascii_lowercase());
    digit || (tok.len() >= 20 && upper && lower)
}

/// Header form: the credential (Digest parameter lists widened). Bare form: a token of
/// ≥ 8 token68 characters that looks like a credential (Basic must decode to `user:pass`).
fn check_auth_header(hay: &[u8], span: Range<usize>) -> Verdict {
    let reject = Verdict::Reject(span.start + 1);
    let value = &hay[span.clone()];
    if AUTH_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(value)) {
        return reject;
    }
    let scheme = scheme_before(hay, span.start);
    let label_pos = scheme.map_or(span.start, |(p, _)| p);
    if preceded_by_auth_label(hay, label_pos) {
        if scheme.is_some_and(|(_, w)| w.eq_ignore_ascii_case(b"digest")) {
            let end = digest_params_end(hay, span.start).max(span.end);
            return Verdict::Accept(span.start..end);
        }
        return Verdict::Accept(span);
    }
    let Some((_, word)) = scheme else {
        return reject;
    };
    let n = value
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
        .count();
    let tok = &value[..n];
    let ok = n >= 8
        && if word.eq_ignore_ascii_case(b"basic") {
            base64_has_colon(tok)
        } else {
            word.eq_ignore_ascii_case(b"bearer") && looks_like_token(tok)
        };
    if ok {
        Verdict::Accept(span.start..span.start + n)
    } else {
        reject
    }
}

/// Cookie values are accepted as found (the name list is the policy).
fn check_cookie_value(_hay: &[u8], span: Range<usize>) -> Verdict {
    Verdict::Accept(span)
}

/// Values that are JSON literals rather than secrets.
const NON_SECRET_LITERALS: &[&[u8]] = &[b"null", b"true", b"false", b"undefined", b"none"];

/// Trims a URL-encoded `&`/`"` the value class swallowed (`password%3Dx%26next`), skips
/// JSON literals, and widens a quoted value that contains blanks to its closing quote.
fn check_secret_param(hay: &[u8], span: Range<usize>) -> Verdict {
    let mut end = span.end;
    let v = &hay[span.clone()];
    if let Some(p) = v
        .windows(3)
        .position(|w| w.eq_ignore_ascii_case(b"%26") || w.eq_ignore_ascii_case(b"%22"))
    {
        end = span.start + p;
    }
    let value = &hay[span.start..end];
    // `PWD=/home/jdoe` in sudo logs is the working directory, not a password.
    let name_is_pwd = hay[..span.start]
        .trim_ascii_end()
        .strip_suffix(b"=")
        .is_some_and(|n| n.len() >= 3 && n[n.len() - 3..].eq_ignore_ascii_case(b"pwd"));
    if name_is_pwd && matches!(value.first(), Some(b'/' | b'~')) {
        return Verdict::Reject(span.start);
    }
    if value.is_empty()
        || NON_SECRET_LITERALS
            .iter()
            .any(|l| l.eq_ignore_ascii_case(value))
    {
        return Verdict::Reject(span.end.max(span.start + 1));
    }
    if end == span.end {
        if let Some(q @ (b'"' | b'\'')) = before(hay, span.start) {
            if at(hay, end) != Some(q) {
                let limit = hay.len().min(end + 256);
                if let Some(p) = hay[end..limit].iter().position(|&b| b == q || b == b'\n') {
                    if hay[end + p] == q && hay[end + p - 1] != b'\\' {
                        end += p;
                    }
                }
            }
        }
    }
    Verdict::Accept(span.start..end)
}

/// Rejects kebab-case compounds (`server-name=`); the regex already requires a whole word.
fn check_name_param(hay: &[u8], span: Range<usize>) -> Verdict {
    let eq = span.start.saturating_sub(1);
    let mut n = eq;
    while n > 0 && (hay[n - 1].is_ascii_alphabetic() || hay[n - 1] == b'_') {
        n -= 1;
    }
    if before(hay, n) == Some(b'-') {
        return Verdict::Reject(span.start + 1);
    }
    Verdict::Accept(span)
}

// ───────────────────────────── login names ─────────────────────────────

/// Accounts every system has; seeing them in a log identifies nobody, and security teams
/// need them (brute-force attempts on `admin`, `root`, `oracle`, …).
const SYSTEM_ACCOUNTS: &[&[u8]] = &[
    b"root",
    b"admin",
    b"administrator",
    b"daemon",
    b"bin",
    b"sys",
    b"nobody",
    b"www-data",
    b"sshd",
    b"ubuntu",
    b"debian",
    b"centos",
    b"ec2-user",
    b"pi",
    b"guest",
    b"test",
    b"user",
    b"oracle",
    b"postgres",
    b"mysql",
    b"git",
    b"ftp",
    b"ftpuser",
    b"support",
    b"backup",
    b"operator",
    b"mail",
    b"postfix",
    b"nagios",
    b"jenkins",
    b"deploy",
    b"ansible",
    b"docker",
    b"unknown",
    b"invalid",
];

/// Login names: after `user=` (also in URL queries; not in compound keys such as
/// `max_user=`); system accounts are kept. The
/// sudo form (`jdoe : TTY=…`) and the su/PAM form (`by jdoe(uid=`) have no `value` group:
/// they arrive as the whole match and are narrowed to the name.
fn check_login_user(hay: &[u8], span: Range<usize>) -> Verdict {
    let reject = Verdict::Reject(span.start + 1);
    let mut span = span;
    if let Some(colon) = hay[span.clone()].windows(3).position(|w| w == b" : ") {
        span = span.start..span.start + colon;
    } else if hay[span.clone()].starts_with(b"by ") && hay[span.clone()].ends_with(b"(uid=") {
        span = span.start + 3..span.end - 5;
    }
    // A sentence's full stop is not part of the name (`New session 5 of user jdoe.`).
    while span.end > span.start && hay[span.end - 1] == b'.' {
        span.end -= 1;
    }
    let name = &hay[span.clone()];
    if name.len() < 2 || SYSTEM_ACCOUNTS.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        return reject;
    }
    if ends_with_ci(hay, span.start, b"user=") && !hay[..span.start].ends_with(b"ruser=") {
        let before_key = span.start.checked_sub(6).map(|i| hay[i]);
        if before_key.is_some_and(|b| matches!(b, b'_' | b'.' | b'-') || b.is_ascii_alphanumeric())
        {
            return reject;
        }
    }
    Verdict::Accept(span)
}

// ───────────────────────────── bank account ─────────────────────────────

/// Narrows a labelled match to its digits (from the first digit to the end).
fn check_uk_bank_account(hay: &[u8], span: Range<usize>) -> Verdict {
    match hay[span.clone()].iter().position(|b| b.is_ascii_digit()) {
        Some(p) => Verdict::Accept(span.start + p..span.end),
        None => Verdict::Reject(span.start + 1),
    }
}

// ───────────────────────────── email ─────────────────────────────

/// URL-encoded delimiters a local part may have swallowed (`?to%3Djohn@x.com`).
const URL_DELIMS: &[&[u8]] = &[
    b"%3d", b"%26", b"%3f", b"%2f", b"%3a", b"%20", b"%22", b"%2c", b"%3c", b"%3e",
];

/// Splits at the last `@`/`%40`/`\u0040`, trims swallowed URL delimiters and dots from
/// the local part, and checks lengths and labels.
fn check_email(hay: &[u8], span: Range<usize>) -> Verdict {
    let (s, e) = (span.start, span.end);
    let Some(d) = (s..e)
        .rev()
        .find(|&i| matches!(hay[i], b'@' | b'%' | b'\\'))
    else {
        return Verdict::Reject(s + 1);
    };
    let dlen = match hay[d] {
        b'@' => 1,
        b'%' => 3,
        _ => 6,
    };
    let reject = Verdict::Reject((d + dlen).max(s + 1));
    let mut local = s;
    let mut i = s;
    while i + 3 <= d {
        if URL_DELIMS
            .iter()
            .any(|u| hay[i..i + 3].eq_ignore_ascii_case(u))
        {
            local = i + 3;
            i += 3;
        } else {
            i += 1;
        }
    }
    // A local part is at most 64 characters; a longer run before the `@` (text glued to
    // the address) is cut to its last 64, so the address is still caught and the result does
    // not depend on where a scan started inside the run.
    local = local.max(d.saturating_sub(64));
    // Not in the middle of a UTF-8 character (internationalised local parts, RFC 6531).
    while local < d && (0x80..0xC0).contains(&hay[local]) {
        local += 1;
    }
    local = skip_while(&hay[..d], local, |b| b == b'.');
    if local >= d {
        return reject;
    }
    let domain = &hay[(d + dlen).min(e)..e];
    let mut labels = 0;
    if domain.len() > 253 {
        return reject;
    }
    for label in domain.split(|&b| b == b'.') {
        // DNS: 1-63 characters, no leading or trailing hyphen.
        if label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
        {
            return reject;
        }
        labels += 1;
    }
    if labels < 2 {
        return reject;
    }
    Verdict::Accept(local..e)
}

// ───────────────────────────── IBAN ─────────────────────────────

/// IBAN length per country. Source: SWIFT IBAN Registry (release 99, 2024), plus the
/// newer registrations BI, DJ, FK, MN, NI, OM, RU, SO, YE.
const IBAN_LENGTHS: &[([u8; 2], u8)] = &[
    (*b"AD", 24),
    (*b"AE", 23),
    (*b"AL", 28),
    (*b"AT", 20),
    (*b"AZ", 28),
    (*b"BA", 20),
    (*b"BE", 16),
    (*b"BG", 22),
    (*b"BH", 22),
    (*b"BI", 27),
    (*b"BR", 29),
    (*b"BY", 28),
    (*b"CH", 21),
    (*b"CR", 22),
    (*b"CY", 28),
    (*b"CZ", 24),
    (*b"DE", 22),
    (*b"DJ", 27),
    (*b"DK", 18),
    (*b"DO", 28),
    (*b"EE", 20),
    (*b"EG", 29),
    (*b"ES", 24),
    (*b"FI", 18),
    (*b"FK", 18),
    (*b"FO", 18),
    (*b"FR", 27),
    (*b"GB", 22),
    (*b"GE", 22),
    (*b"GI", 23),
    (*b"GL", 18),
    (*b"GR", 27),
    (*b"GT", 28),
    (*b"HR", 21),
    (*b"HU", 28),
    (*b"IE", 22),
    (*b"IL", 23),
    (*b"IQ", 23),
    (*b"IS", 26),
    (*b"IT", 27),
    (*b"JO", 30),
    (*b"KW", 30),
    (*b"KZ", 20),
    (*b"LB", 28),
    (*b"LC", 32),
    (*b"LI", 21),
    (*b"LT", 20),
    (*b"LU", 20),
    (*b"LV", 21),
    (*b"LY", 25),
    (*b"MC", 27),
    (*b"MD", 24),
    (*b"ME", 22),
    (*b"MK", 19),
    (*b"MN", 20),
    (*b"MR", 27),
    (*b"MT", 31),
    (*b"MU", 30),
    (*b"NI", 28),
    (*b"NL", 18),
    (*b"NO", 15),
    (*b"OM", 23),
    (*b"PK", 24),
    (*b"PL", 28),
    (*b"PS", 29),
    (*b"PT", 25),
    (*b"QA", 29),
    (*b"RO", 24),
    (*b"RS", 22),
    (*b"RU", 33),
    (*b"SA", 24),
    (*b"SC", 31),
    (*b"SD", 18),
    (*b"SE", 24),
    (*b"SI", 19),
    (*b"SK", 24),
    (*b"SM", 27),
    (*b"SO", 23),
    (*b"ST", 25),
    (*b"SV", 28),
    (*b"TL", 23),
    (*b"TN", 24),
    (*b"TR", 26),
    (*b"UA", 29),
    (*b"VA", 22),
    (*b"VG", 24),
    (*b"XK", 20),
    (*b"YE", 30),
];

/// The IBAN length registered for a country code (any case).
fn iban_length(cc: [u8; 2]) -> Option<usize> {
    let cc = cc.map(|b| b.to_ascii_uppercase());
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| *c == cc)
        .map(|&(_, n)| n as usize)
}

/// ISO 7064 mod-97 of the rearranged IBAN (BBAN then country and check digits),
/// computed incrementally; letters count as 10–35.
fn iban_mod97(chars: &[u8]) -> u32 {
    let (head, bban) = chars.split_at(4.min(chars.len()));
    bban.iter().chain(head).fold(0u32, |r, &b| match b {
        b'0'..=b'9' => (r * 10 + u32::from(b - b'0')) % 97,
        _ => (r * 100 + u32::from(b.to_ascii_uppercase() - b'A') + 10) % 97,
    })
}

/// Takes exactly the country's IBAN length (skipping single spaces), then mod-97 == 1.
fn check_iban(hay: &[u8], span: Range<usize>) -> Verdict {
    let s = span.start;
    let reject = Verdict::Reject(skip_while(hay, s, |b| b.is_ascii_alphanumeric()).max(s + 1));
    if span.len() < 4 {
        return reject;
    }
    let Some(len) = iban_length([hay[s], hay[s + 1]]) else {
        return reject;
    };
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut end = s;
    for (i, &b) in hay[span.clone()].iter().enumerate() {
        if n == len {
            break;
        }
        if b.is_ascii_alphanumeric() {
            chars[n] = b;
            n += 1;
            end = s + i + 1;
        }
    }
    if n != len || at(hay, end).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return check_iban_wrong_length(hay, s).unwrap_or(reject);
    }
    if iban_mod97(&chars[..n]) != 1 {
        // IBAN-shaped with the right length: not an IBAN, and its digit groups are not a
        // card or phone either; resume after it.
        return Verdict::Reject(end.max(s + 1));
    }
    Verdict::Accept(s..end)
}

/// An unspaced, upper-case IBAN of a registry country whose length does not match the
/// country's registered length still counts when it is 15–34 characters and mod-97 valid:
/// a mistyped-length account number is still an account number. Lower case is not
/// accepted here, so hex ids (`xe80c3…`) that pass mod-97 by chance (1 in 97) survive.
fn check_iban_wrong_length(hay: &[u8], s: usize) -> Option<Verdict> {
    let end = skip_while(hay, s, |b| b.is_ascii_alphanumeric());
    let token = &hay[s..end];
    let valid = (15..=34).contains(&token.len())
        && !token.iter().any(u8::is_ascii_lowercase)
        && iban_mod97(token) == 1;
    valid.then_some(Verdict::Accept(s..end))
}

// ───────────────────────────── VAT ─────────────────────────────

/// GB VAT check digits: weights 8..2 on the first seven digits; the sum plus the two
/// check digits is 0 mod 97 (old scheme) or the sum plus 55 plus them is (new scheme).
fn vat_gb_checksum_ok(d: &[u8]) -> bool {
    let sum: u32 = d[..7]
        .iter()
        .zip((2..=8).rev())
        .map(|(&x, w)| u32::from(x) * w)
        .sum();
    let check = u32::from(d[7]) * 10 + u32::from(d[8]);
    (sum + check) % 97 == 0 || (sum + 55 + check) % 97 == 0
}

/// Narrows to the number (from `GB` or the first digit), then checks the digits:
/// 9 or 12 digits with valid check digits, or GD 000–499 / HA 500–999.
fn check_vat_gb(hay: &[u8], span: Range<usize>) -> Verdict {
    let reject = Verdict::Reject(span.start + 1);
    let text = &hay[span.clone()];
    let Some(first_digit) = text.iter().position(|b| b.is_ascii_digit()) else {
        return reject;
    };
    let gb = text[..first_digit]
        .windows(2)
        .rposition(|w| w.eq_ignore_ascii_case(b"GB"));
    let start = span.start + gb.unwrap_or(first_digit);
    let mut d = [0u8; 12];
    let n = collect_digits(hay, span.clone(), &mut d);
    let ok = if ends_with_ci(text, first_digit, b"GD") {
        n == 3 && d[0] < 5
    } else if ends_with_ci(text, first_digit, b"HA") {
        n == 3 && d[0] >= 5
    } else {
        (n == 9 || n == 12) && vat_gb_checksum_ok(&d)
    };
    if ok {
        Verdict::Accept(start..span.end)
    } else {
        reject
    }
}

// ───────────────────────────── NINO ─────────────────────────────

/// NINO prefixes that are never issued.
const NINO_BAD_PREFIXES: &[&[u8; 2]] = &[b"BG", b"GB", b"KN", b"NK", b"NT", b"TN", b"ZZ"];

/// The letter classes are in the regex; this rejects the unissued prefixes.
fn check_nino(hay: &[u8], span: Range<usize>) -> Verdict {
    if span.len() < 2 {
        return Verdict::Reject(span.start + 1);
    }
    let p = [
        hay[span.start].to_ascii_uppercase(),
        hay[span.start + 1].to_ascii_uppercase(),
    ];
    if NINO_BAD_PREFIXES.iter().any(|b| **b == p) {
        Verdict::Reject(span.start + 1)
    } else {
        Verdict::Accept(span)
    }
}

// ───────────────────────────── cards ─────────────────────────────

/// Issuer ranges: (lowest prefix, highest prefix, prefix digits, min length, max length).
/// Source: ISO/IEC 7812 issuer ranges as published by the schemes (Visa, Mastercard,
/// Amex, Discover, JCB, Diners, Maestro, UnionPay, Mir).
const CARD_IIN: &[(u32, u32, u32, usize, usize)] = &[
    (4, 4, 1, 13, 19),           // Visa
    (51, 55, 2, 16, 16),         // Mastercard
    (2221, 2720, 4, 16, 16),     // Mastercard 2-series
    (34, 34, 2, 15, 15),         // Amex
    (37, 37, 2, 15, 15),         // Amex
    (6011, 6011, 4, 16, 19),     // Discover
    (644, 649, 3, 16, 19),       // Discover
    (65, 65, 2, 16, 19),         // Discover
    (622126, 622925, 6, 16, 19), // Discover / UnionPay co-brand
    (35, 35, 2, 16, 19),         // JCB (3528–3589; the whole 35 block is taken as JCB)
    (300, 305, 3, 14, 19),       // Diners
    (36, 36, 2, 14, 19),         // Diners
    (38, 39, 2, 14, 19),         // Diners
    (50, 50, 2, 13, 19),         // Maestro
    (56, 69, 2, 13, 19),         // Maestro (56–69)
    (62, 62, 2, 16, 19),         // UnionPay
    (2200, 2204, 4, 16, 19),     // Mir
];

/// Whether the digits fall in a known issuer range with a length that fits it.
fn card_iin_ok(d: &[u8]) -> bool {
    CARD_IIN.iter().any(|&(lo, hi, plen, min, max)| {
        let prefix = d[..plen as usize]
            .iter()
            .fold(0u32, |a, &x| a * 10 + u32::from(x));
        (lo..=hi).contains(&prefix) && (min..=max).contains(&d.len())
    })
}

/// The Luhn checksum.
fn luhn_ok(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let v = u32::from(x) * if i % 2 == 1 { 2 } else { 1 };
            if v > 9 {
                v - 9
            } else {
                v
            }
        })
        .sum();
    sum % 10 == 0
}

/// Whether all separators in `text` are the same byte.
fn separators_consistent(text: &[u8], seps: &[u8]) -> bool {
    let mut first = None;
    text.iter()
        .filter(|b| seps.contains(b))
        .all(|&b| *first.get_or_insert(b) == b)
}

/// 13–19 digits, consistent separators, not part of a decimal, Luhn, known issuer.
fn check_card(hay: &[u8], span: Range<usize>) -> Verdict {
    let (s, e) = (span.start, span.end);
    let reject = Verdict::Reject(s + 1);
    let decimal_before =
        matches!(before(hay, s), Some(b'.' | b',')) && s >= 2 && hay[s - 2].is_ascii_digit();
    if decimal_before || sep_then_digit(hay, e, b'.') || sep_then_digit(hay, e, b',') {
        return reject;
    }
    let mut d = [0u8; 19];
    let n = collect_digits(hay, span.clone(), &mut d);
    if !(13..=19).contains(&n) || !separators_consistent(&hay[span], b" +-") {
        return reject;
    }
    if luhn_ok(&d[..n]) && card_iin_ok(&d[..n]) {
        Verdict::Accept(s..e)
    } else {
        reject
    }
}

// ───────────────────────────── phones ─────────────────────────────

/// Whether the text after a phone number makes it part of something else: glued
/// letters or digits, or a time/decimal/range continuation (`:30`, `.5`, `-2`, `/3`).
fn phone_followed_badly(hay: &[u8], e: usize) -> bool {
    at(hay, e).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        || [b':', b'.', b'-', b'/']
            .iter()
            .any(|&c| sep_then_digit(hay, e, c))
}

/// Digit groups of a phone number: total digits, the first group's length, the
/// shortest later group, the group count, and whether the separators agree.
struct Groups {
    digits: [u8; 16],
    n: usize,
    first: usize,
    min_later: usize,
    count: usize,
    consistent: bool,
}

/// Splits `hay[i..e]` into digit groups at single separators; `(`/`)` end groups too and
/// do not take part in the consistency check.
fn phone_groups(hay: &[u8], i: usize, e: usize) -> Groups {
    let mut g = Groups {
        digits: [0; 16],
        n: 0,
        first: 0,
        min_later: usize::MAX,
        count: 0,
        consistent: true,
    };
    let mut cur = 0;
    let mut sep = None;
    let mut after_paren = false;
    for &b in &hay[i..e] {
        if b.is_ascii_digit() {
            if g.n < g.digits.len() {
                g.digits[g.n] = b - b'0';
            }
            g.n += 1;
            cur += 1;
            continue;
        }
        if cur > 0 {
            if g.count == 0 {
                g.first = cur;
            } else {
                g.min_later = g.min_later.min(cur);
            }
            g.count += 1;
            cur = 0;
        }
        match b {
            b'(' | b')' => after_paren = true,
            _ if after_paren => after_paren = false,
            _ => {
                if *sep.get_or_insert(b) != b {
                    g.consistent = false;
                }
            }
        }
    }
    if cur > 0 {
        if g.count == 0 {
            g.first = cur;
        } else {
            g.min_later = g.min_later.min(cur);
        }
        g.count += 1;
    }
    g
}

/// UK numbers: national 10–11 digits from `0[1235789]`, or 9–10 after `+44`; plausible
/// groups; consistent separators; not glued to other text.
fn check_phone_uk(hay: &[u8], span: Range<usize>) -> Verdict {
    let (s, e) = (span.start, span.end);
    let reject = Verdict::Reject(s + 1);
    // A `/` before is fine: numbers are path segments too (`/by-phone/07700900123`).
    let glued = before(hay, s)
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'#' | b'-' | b'_'));
    // `0044` is the international prefix dialled from most of Europe; written unspaced it is
    // as likely an id, so it needs a separator after it.
    let zero_zero = hay[s..].starts_with(b"0044");
    if zero_zero && !matches!(hay.get(s + 4), Some(b' ' | b'-' | b'.' | b'(')) {
        return Verdict::Reject(s + 1);
    }
    let intl_written =
        starts_with_ci(hay, s, b"+44") || starts_with_ci(hay, s, b"%2b44") || zero_zero;
    // `+` before a national number is only a URL-encoded space after a word (`call+0770…`)
    let bad_plus = !intl_written
        && before(hay, s) == Some(b'+')
        && !(s >= 2 && hay[s - 2].is_ascii_alphanumeric());
    if glued || bad_plus {
        return reject;
    }
    // URL escapes (`%2B44`, `%280%29`, `%2801632%29`) are read as the characters they stand
    // for, so the digit groups are those of the number itself.
    let mut buf = [0u8; 64];
    let Some(text) = url_unescaped(&hay[s..e], &mut buf) else {
        return reject;
    };
    let ok = if let Some(rest) = text
        .strip_prefix(b"+44")
        .or_else(|| text.strip_prefix(b"0044"))
    {
        // skip the separator and `(0)` after the country code
        let from = text.len() - rest.len();
        let mut j = skip_while(text, from, |b| matches!(b, b' ' | b'+' | b'-' | b'.'));
        if text[j..].starts_with(b"(0)") {
            j = skip_while(text, j + 3, |b| matches!(b, b' ' | b'+' | b'-' | b'.'));
        }
        let g = phone_groups(text, j, text.len());
        (9..=10).contains(&g.n)
            && matches!(g.digits[0], 1 | 2 | 3 | 5 | 7 | 8 | 9)
            && g.consistent
            && (g.count == 1 || (g.first <= 5 && g.min_later >= 3))
    } else {
        let g = phone_groups(text, 0, text.len());
        (10..=11).contains(&g.n)
            && g.digits[0] == 0
            && matches!(g.digits[1], 1 | 2 | 3 | 5 | 7 | 8 | 9)
            && g.consistent
            && (g.count == 1 || ((2..=6).contains(&g.first) && g.min_later >= 3))
    };
    if ok && !phone_followed_badly(hay, e) {
        return Verdict::Accept(span);
    }
    if intl_written && !zero_zero {
        // not a UK number: it may still be a valid international one
        if let Some(end) = e164_end(hay, s) {
            return Verdict::Accept(s..end);
        }
    }
    reject
}

/// `text` with `%XX` escapes decoded into `buf`, or `text` itself when it has none; `None`
/// when it does not fit.
fn url_unescaped<'a>(text: &'a [u8], buf: &'a mut [u8; 64]) -> Option<&'a [u8]> {
    if !text.contains(&b'%') {
        return Some(text);
    }
    let mut n = 0;
    let mut i = 0;
    while i < text.len() {
        let decoded = crate::format::url::escape_at(text, i);
        let (b, step) = match decoded {
            Some(b) => (b, 3),
            None => (text[i], 1),
        };
        *buf.get_mut(n)? = b;
        n += 1;
        i += step;
    }
    Some(&buf[..n])
}

/// The end of an E.164 number starting at `s` (`+` or `%2B`, 8–15 digits in groups
/// separated by single spaces or dashes, the longest run of whole groups that fits).
fn e164_end(hay: &[u8], s: usize) -> Option<usize> {
    let url_encoded = starts_with_ci(hay, s, b"%2b");
    let mut i = if at(hay, s) == Some(b'+') {
        s + 1
    } else if url_encoded {
        s + 3
    } else {
        return None;
    };
    if !at(hay, i).is_some_and(|b| (b'1'..=b'9').contains(&b)) {
        return None;
    }
    let mut n = 0;
    let mut end = None;
    loop {
        let g = skip_while(hay, i, |b| b.is_ascii_digit());
        if g == i || n + (g - i) > 15 {
            break;
        }
        n += g - i;
        end = Some((g, n));
        // One separator (space, dash, dot), or a parenthesised area code: `+1 (415) 555-2671`.
        let sep = match (at(hay, g), at(hay, g + 1)) {
            (Some(b' ' | b'-' | b'.' | b'('), Some(d)) if d.is_ascii_digit() => 1,
            // a form-encoded space in `%2B91+79578+03168`
            (Some(b'+'), Some(d)) if url_encoded && d.is_ascii_digit() => 1,
            (Some(b')'), Some(b' ' | b'-' | b'.')) | (Some(b' '), Some(b'(')) => 2,
            (Some(b')'), Some(d)) if d.is_ascii_digit() => 1,
            _ => 0,
        };
        if sep > 0 && at(hay, g + sep).is_some_and(|b| b.is_ascii_digit()) {
            i = g + sep;
        } else {
            break;
        }
    }
    let (end, n) = end?;
    let glued_after = at(hay, end).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        || sep_then_digit(hay, end, b'.')
        || sep_then_digit(hay, end, b':');
    ((8..=15).contains(&n) && !glued_after).then_some(end)
}

/// E.164: not glued to a word before, 8–15 digits, nothing glued after.
/// Not glued to a word or an id, consistent separators, an area code that is not `N11`
/// (service codes such as 411 and 911), not continued like a time or a range.
fn check_phone_nanp(hay: &[u8], span: Range<usize>) -> Verdict {
    let (s, e) = (span.start, span.end);
    let reject = Verdict::Reject(s + 1);
    let glued = before(hay, s)
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'#' | b'-' | b'_'));
    if glued || phone_followed_badly(hay, e) {
        return reject;
    }
    let mut buf = [0u8; 64];
    let Some(text) = url_unescaped(&hay[s..e], &mut buf) else {
        return reject;
    };
    let mut d = [0u8; 11];
    let n = collect_digits(text, 0..text.len(), &mut d);
    let ten = match n {
        10 => &d[..10],
        11 if d[0] == 1 => &d[1..11],
        _ => return reject,
    };
    if ten[1] == 1 && ten[2] == 1 {
        return reject;
    }
    if !separators_consistent(text, b"-.") {
        return reject;
    }
    Verdict::Accept(span)
}

fn check_phone_intl(hay: &[u8], span: Range<usize>) -> Verdict {
    let s = span.start;
    let reject = Verdict::Reject(s + 1);
    if before(hay, s).is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return reject;
    }
    match e164_end(hay, s) {
        Some(end) => Verdict::Accept(s..end),
        None => reject,
    }
}

// ───────────────────────────── IP addresses ─────────────────────────────

/// Rejects times, MACs, C++/Rust paths and lone `::`; confirms with `Ipv6Addr`. On
/// reject, resumes after the run's last colon (no candidate can start before it, and an
/// IPv4 tail stays findable).
fn check_ipv6(hay: &[u8], span: Range<usize>) -> Verdict {
    let (s, e) = (span.start, span.end);
    let run_end = skip_while(hay, s, |b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    let resume = hay[s..run_end]
        .iter()
        .rposition(|&b| b == b':')
        .map_or(s + 1, |p| s + p + 1)
        .max(s + 1);
    let reject = Verdict::Reject(resume);
    if before(hay, s).is_some_and(|b| is_word(b) || b == b':' || b == b'.')
        || at(hay, e).is_some_and(|b| is_word(b) || b == b':')
        || sep_then_digit(hay, e, b'.')
    {
        return reject;
    }
    let addr_end = hay[s..e]
        .iter()
        .position(|&b| b == b'%')
        .map_or(e, |p| s + p);
    let addr = &hay[s..addr_end];
    if addr.len() > 45 || !addr.iter().any(|b| b.is_ascii_digit()) {
        return reject;
    }
    let compressed = addr.windows(2).any(|w| w == b"::");
    if !compressed && addr.split(|&b| b == b':').all(|g| g.len() == 2) {
        return reject; // a MAC / EUI-64 written with colons
    }
    let parsed = std::str::from_utf8(addr)
        .ok()
        .and_then(|a| a.parse::<std::net::Ipv6Addr>().ok());
    if parsed.is_some() {
        Verdict::Accept(span)
    } else {
        reject
    }
}

/// Words before a dotted quad that make it a version number.
const VERSION_PREFIXES: &[&[u8]] = &[b"version ", b"version/", b"version=", b"version:"];

/// Rejects version strings (`Chrome/120.0.1.2`, `v1.2.3.4`, `version 1.2.3.4`) and
/// longer dotted runs (OIDs); resumes past the whole dotted run.
fn check_ipv4(hay: &[u8], span: Range<usize>) -> Verdict {
    let (s, e) = (span.start, span.end);
    let reject =
        Verdict::Reject(skip_while(hay, e, |b| b.is_ascii_digit() || b == b'.').max(s + 1));
    let dotted_before = before(hay, s) == Some(b'.') && s >= 2 && hay[s - 2].is_ascii_digit();
    let versioned = matches!(before(hay, s), Some(b'v' | b'V'))
        || (before(hay, s) == Some(b'/') && s >= 2 && hay[s - 2].is_ascii_alphanumeric())
        || VERSION_PREFIXES.iter().any(|p| {
            // A whole word: `server 10.0.0.1` is an address, not `ver 10.0.0.1`.
            ends_with_ci(hay, s, p) && (s == p.len() || !is_word(hay[s - p.len() - 1]))
        });
    if dotted_before || versioned || sep_then_digit(hay, e, b'.') {
        return reject;
    }
    Verdict::Accept(span)
}

// ───────────────────────────── postcodes ─────────────────────────────

/// Letters allowed in the third position of an A9A outward code.
const POSTCODE_THIRD: &[u8] = b"ABCDEFGHJKPSTUW";
/// Letters allowed in the fourth position of an AA9A outward code.
const POSTCODE_FOURTH: &[u8] = b"ABEHMNPRVWXY";

/// Royal Mail letter rules: first letter not Q, V, X; second not I, J, Z; the letter
/// after the district digit from the A9A / AA9A lists.
fn check_postcode_uk(hay: &[u8], span: Range<usize>) -> Verdict {
    let reject = Verdict::Reject(span.start + 1);
    // The lower-case form (typed into a form) is checked as upper case.
    let mut upper = [0u8; 16];
    let raw = &hay[span.clone()];
    if raw.len() > upper.len() {
        return reject;
    }
    upper[..raw.len()].copy_from_slice(raw);
    upper[..raw.len()].make_ascii_uppercase();
    let p = &upper[..raw.len()];
    if p.starts_with(b"GIR") {
        return Verdict::Accept(span);
    }
    if p.len() < 5 {
        return reject;
    }
    let inward = p.len() - 3;
    // The separator may be a space, or `+` / `%20` in a URL query.
    let outward = &p[..inward];
    let outward = outward
        .strip_suffix(b" ")
        .or_else(|| outward.strip_suffix(b"+"))
        .or_else(|| outward.strip_suffix(b"%20"))
        .unwrap_or(outward);
    if outward.is_empty() {
        return reject;
    }
    if matches!(outward[0], b'Q' | b'V' | b'X') {
        return reject;
    }
    let two_letters = outward.len() >= 2 && outward[1].is_ascii_alphabetic();
    if two_letters && matches!(outward[1], b'I' | b'J' | b'Z') {
        return reject;
    }
    if let Some(&last) = outward.last().filter(|b| b.is_ascii_alphabetic()) {
        let allowed = if two_letters {
            POSTCODE_FOURTH
        } else {
            POSTCODE_THIRD
        };
        if outward.len() >= 3 && !allowed.contains(&last) {
            return reject;
        }
    }
    Verdict::Accept(span)
}

#[cfg(test)]
mod tests;
