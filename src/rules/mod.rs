//! Rule files: which detectors run, what personal data category each belongs to, and what
//! action each takes. The shipped rules live in `rules/*.toml` and are built into the
//! binary; users add their own files, which may also override a shipped rule by id.
//!
//! ```toml
//! [[rule]]
//! id = "email"              # unique; a later file's rule with the same id replaces it
//! category = "contact"      # the privacy policy's data category
//! detector = "email"        # a built-in detector, or `regex = '…'`, or `words = [..]`
//! action = "pseudonymise"   # redact | mask | pseudonymise | truncate | drop | keep
//! ```
//!
//! Every error names the file, line, column and rule.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::redact::detect::{self, Builtin, ValueKind};

/// The shipped rule files, built into the binary, in load order.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "rules/secrets.toml",
        include_str!("../../rules/secrets.toml"),
    ),
    (
        "rules/cookies.toml",
        include_str!("../../rules/cookies.toml"),
    ),
    (
        "rules/financial.toml",
        include_str!("../../rules/financial.toml"),
    ),
    (
        "rules/identity.toml",
        include_str!("../../rules/identity.toml"),
    ),
    (
        "rules/contact.toml",
        include_str!("../../rules/contact.toml"),
    ),
    (
        "rules/network.toml",
        include_str!("../../rules/network.toml"),
    ),
];

/// The privacy policy's data categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Names, user names, identifiers of a person.
    Identity,
    /// E-mail addresses, telephone numbers, postal addresses.
    Contact,
    /// Bank accounts, payment cards, VAT numbers.
    Financial,
    /// Payments and orders.
    Transaction,
    /// IP addresses, browser and device data, credentials.
    Technical,
    /// User names, passwords, preferences.
    Profile,
    /// How a service is used.
    Usage,
    /// Marketing and communication preferences.
    Marketing,
}

impl Category {
    /// The category's name as written in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Identity => "identity",
            Category::Contact => "contact",
            Category::Financial => "financial",
            Category::Transaction => "transaction",
            Category::Technical => "technical",
            Category::Profile => "profile",
            Category::Usage => "usage",
            Category::Marketing => "marketing",
        }
    }
}

/// What happens to a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Replace with a typed placeholder such as `[EMAIL]`.
    Redact,
    /// Replace letters and digits with `*`, keeping the last `keep_last` and separators.
    Mask,
    /// Replace with a keyed, deterministic token such as `email:4f2a9c1d0e7b`.
    #[serde(alias = "pseudonymize")]
    Pseudonymise,
    /// Keep a prefix: an IP's network (`/24`, `/48`), a postcode's outward code.
    Truncate,
    /// Remove the match.
    Drop,
    /// Leave the match as it is (still counted).
    Keep,
}

impl Action {
    /// The action's name as written in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Redact => "redact",
            Action::Mask => "mask",
            Action::Pseudonymise => "pseudonymise",
            Action::Truncate => "truncate",
            Action::Drop => "drop",
            Action::Keep => "keep",
        }
    }
}

/// What finds a rule's matches.
#[derive(Clone)]
pub enum Matcher {
    /// A built-in detector with its validator.
    Builtin(&'static Builtin),
    /// A user's regular expression (ASCII mode; a group named `value` marks the part to
    /// transform).
    Regex(String),
    /// A literal word list, matched with Aho-Corasick on word boundaries.
    Words(Vec<String>),
    /// A whole field of a structured record, by name (`user`: the access-log user name).
    Field(String),
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Builtin(b) => write!(f, "Builtin({})", b.name),
            Matcher::Regex(re) => write!(f, "Regex({re:?})"),
            Matcher::Words(w) => write!(f, "Words({} words)", w.len()),
            Matcher::Field(name) => write!(f, "Field({name})"),
        }
    }
}

/// One checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id, used in metrics and `rules list`.
    pub id: String,
    /// The policy data category.
    pub category: Category,
    /// What finds matches.
    pub matcher: Matcher,
    /// Match letters case-insensitively (regex and word rules).
    pub case_insensitive: bool,
    /// The kind of value found: decides normalisation and truncation.
    pub kind: ValueKind,
    /// What happens to a match.
    pub action: Action,
    /// Placeholder for `redact`.
    pub placeholder: String,
    /// Characters left visible at the end by `mask`.
    pub keep_last: usize,
    /// Type prefix of pseudonym tokens.
    pub token: String,
    /// Prefix length kept by `truncate` for IPv4.
    pub ipv4_prefix: u8,
    /// Prefix length kept by `truncate` for IPv6.
    pub ipv6_prefix: u8,
    /// Whether the rule runs.
    pub enabled: bool,
    /// The file the rule came from.
    pub origin: String,
}

/// A rule file error, pointing at file, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The rule's id, when the error is inside a rule.
    pub rule: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(rule) = &self.rule {
            write!(f, "rule `{rule}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[allow(dead_code)] // documentation for humans; kept so the key is accepted
    description: Option<String>,
    category: Option<Category>,
    detector: Option<Spanned<String>>,
    regex: Option<Spanned<String>>,
    words: Option<Spanned<Vec<String>>>,
    words_file: Option<Spanned<String>>,
    field: Option<Spanned<String>>,
    case_insensitive: Option<bool>,
    kind: Option<Spanned<String>>,
    action: Option<Action>,
    placeholder: Option<Spanned<String>>,
    keep_last: Option<usize>,
    token: Option<Spanned<String>>,
    ipv4_prefix: Option<Spanned<u8>>,
    ipv6_prefix: Option<Spanned<u8>>,
    enabled: Option<bool>,
}

/// An ordered set of rules: shipped rules first, then users' files.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> Self {
        RuleSet::default()
    }

    /// The shipped rules.
    pub fn shipped() -> Self {
        let mut set = RuleSet::new();
        for (name, text) in SHIPPED {
            set.add_str(name, text, None)
                .unwrap_or_else(|e| panic!("shipped rules are valid: {e}"));
        }
        set
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Keeps only the rules for which `keep` returns true (e.g. one category for response-body
    /// DLP), in their order.
    pub fn retain(&mut self, keep: impl FnMut(&Rule) -> bool) {
        self.rules.retain(keep);
    }

    /// Loads a rule file from disk.
    pub fn add_file(&mut self, path: &Path) -> Result<(), RuleError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RuleError {
            file: name.clone(),
            line: 0,
            column: 0,
            rule: None,
            message: format!("cannot read: {e}"),
        })?;
        self.add_str(&name, &text, path.parent())
    }

    /// Loads rules from TOML text; `base` resolves relative `words_file` paths.
    pub fn add_str(
        &mut self,
        file: &str,
        text: &str,
        base: Option<&Path>,
    ) -> Result<(), RuleError> {
        let here = |span: std::ops::Range<usize>, rule: Option<&str>, message: String| {
            let (line, column) = line_column(text, span.start);
            RuleError {
                file: file.to_string(),
                line,
                column,
                rule: rule.map(str::to_string),
                message,
            }
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            here(span, None, e.message().to_string())
        })?;
        let mut seen: Vec<String> = Vec::new();
        for spanned in raw.rule {
            let span = spanned.span();
            let raw = spanned.into_inner();
            let id = raw.id.get_ref().clone();
            let id_span = raw.id.span();
            if !valid_id(&id) {
                return Err(here(
                    id_span,
                    Some(&id),
                    "an id is 1-64 of a-z, 0-9, `_`, `-`".into(),
                ));
            }
            if seen.contains(&id) {
                return Err(here(
                    id_span,
                    Some(&id),
                    "duplicate rule id in this file".into(),
                ));
            }
            seen.push(id.clone());
            let existing = self.rules.iter().position(|r| r.id == id);
            let rule = build_rule(raw, file, base, existing.map(|i| &self.rules[i]))
                .map_err(|(s, m)| here(s.unwrap_or(span.clone()), Some(&id), m))?;
            match existing {
                Some(i) => self.rules[i] = rule,
                None => self.rules.push(rule),
            }
        }
        Ok(())
    }
}

/// Record fields a `field` rule can name.
pub const FIELDS: &[&str] = &["user"];

type Problem = (Option<std::ops::Range<usize>>, String);

fn build_rule(
    raw: RawRule,
    file: &str,
    base: Option<&Path>,
    existing: Option<&Rule>,
) -> Result<Rule, Problem> {
    let id = raw.id.get_ref().clone();
    let sources = [
        raw.detector.is_some(),
        raw.regex.is_some(),
        raw.words.is_some() || raw.words_file.is_some(),
        raw.field.is_some(),
    ];
    let source_count = sources.iter().filter(|s| **s).count();
    if source_count > 1 {
        return Err((
            None,
            "give exactly one of `detector`, `regex`, `words`/`words_file`, `field`".into(),
        ));
    }
    let case_insensitive = raw
        .case_insensitive
        .or(existing.map(|r| r.case_insensitive))
        .unwrap_or(false);
    let (matcher, builtin_kind) = if let Some(name) = &raw.detector {
        let builtin = detect::builtin(name.get_ref()).ok_or_else(|| {
            let known: Vec<&str> = detect::BUILTINS.iter().map(|b| b.name).collect();
            (
                Some(name.span()),
                format!(
                    "unknown detector `{}`; known: {}",
                    name.get_ref(),
                    known.join(", ")
                ),
            )
        })?;
        (Matcher::Builtin(builtin), Some(builtin.kind))
    } else if let Some(re) = &raw.regex {
        check_regex(re.get_ref(), case_insensitive).map_err(|m| (Some(re.span()), m))?;
        (Matcher::Regex(re.get_ref().clone()), None)
    } else if raw.words.is_some() || raw.words_file.is_some() {
        let mut words = raw
            .words
            .as_ref()
            .map(|w| w.get_ref().clone())
            .unwrap_or_default();
        if let Some(wf) = &raw.words_file {
            let path = base
                .map(|b| b.join(wf.get_ref()))
                .unwrap_or_else(|| PathBuf::from(wf.get_ref()));
            let text = std::fs::read_to_string(&path).map_err(|e| {
                (
                    Some(wf.span()),
                    format!("cannot read words file {}: {e}", path.display()),
                )
            })?;
            words.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string),
            );
        }
        if words.iter().any(|w| w.trim().is_empty()) {
            let span = raw.words.as_ref().map(|w| w.span());
            return Err((span, "a word list holds an empty word".into()));
        }
        if words.is_empty() {
            return Err((None, "the word list is empty".into()));
        }
        (Matcher::Words(words), None)
    } else if let Some(field) = &raw.field {
        if !FIELDS.contains(&field.get_ref().as_str()) {
            return Err((
                Some(field.span()),
                format!(
                    "unknown field `{}`; known: {}",
                    field.get_ref(),
                    FIELDS.join(", ")
                ),
            ));
        }
        (Matcher::Field(field.get_ref().clone()), None)
    } else if let Some(prev) = existing {
        (prev.matcher.clone(), Some(prev.kind))
    } else {
        return Err((
            None,
            "a new rule needs one of `detector`, `regex`, `words`, `words_file` or `field`".into(),
        ));
    };
    let kind = match &raw.kind {
        Some(k) => parse_kind(k.get_ref())
            .ok_or_else(|| (Some(k.span()), format!("unknown kind `{}`", k.get_ref())))?,
        None => builtin_kind.unwrap_or(ValueKind::Other),
    };
    let category = raw
        .category
        .or(existing.map(|r| r.category))
        .ok_or_else(|| (None, "missing `category` (one of the policy's: identity, contact, financial, transaction, technical, profile, usage, marketing)".to_string()))?;
    let action = raw
        .action
        .or(existing.map(|r| r.action))
        .unwrap_or(Action::Redact);
    if action == Action::Truncate && !matches!(kind, ValueKind::Ip | ValueKind::Postcode) {
        return Err((
            None,
            "`truncate` applies to IP addresses and postcodes only (set `kind`)".into(),
        ));
    }
    let placeholder = match raw.placeholder {
        Some(p) => {
            if p.get_ref()
                .bytes()
                .any(|b| b.is_ascii_control() || b == b'"' || b == b'\\')
            {
                return Err((
                    Some(p.span()),
                    "a placeholder may not hold quotes, backslashes or control characters".into(),
                ));
            }
            p.into_inner()
        }
        None => existing
            .map(|r| r.placeholder.clone())
            .unwrap_or_else(|| default_placeholder(kind).to_string()),
    };
    let token = match raw.token {
        Some(t) => {
            if !valid_id(t.get_ref()) {
                return Err((
                    Some(t.span()),
                    "a token type is 1-64 of a-z, 0-9, `_`, `-`".into(),
                ));
            }
            t.into_inner()
        }
        None => existing.map(|r| r.token.clone()).unwrap_or_else(|| {
            default_token(kind)
                .map(str::to_string)
                .unwrap_or_else(|| id.clone())
        }),
    };
    let ipv4_prefix = prefix(
        raw.ipv4_prefix,
        32,
        existing.map(|r| r.ipv4_prefix).unwrap_or(24),
    )?;
    let ipv6_prefix = prefix(
        raw.ipv6_prefix,
        128,
        existing.map(|r| r.ipv6_prefix).unwrap_or(48),
    )?;
    Ok(Rule {
        id,
        category,
        matcher,
        case_insensitive,
        kind,
        action,
        placeholder,
        keep_last: raw.keep_last.or(existing.map(|r| r.keep_last)).unwrap_or(4),
        token,
        ipv4_prefix,
        ipv6_prefix,
        enabled: raw.enabled.or(existing.map(|r| r.enabled)).unwrap_or(true),
        origin: file.to_string(),
    })
}

fn prefix(raw: Option<Spanned<u8>>, max: u8, default: u8) -> Result<u8, Problem> {
    match raw {
        Some(p) if *p.get_ref() > max => {
            Err((Some(p.span()), format!("a prefix is at most {max} bits")))
        }
        Some(p) => Ok(p.into_inner()),
        None => Ok(default),
    }
}

/// Checks a user's regex compiles in the engine's syntax; the message names the offending
/// part of the pattern (never input data: patterns come from the operator).
fn check_regex(pattern: &str, case_insensitive: bool) -> Result<(), String> {
    use regex_automata::{meta, util::syntax};
    let config = syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(case_insensitive);
    meta::Regex::builder()
        .syntax(config)
        .build(pattern)
        .map(|_| ())
        .map_err(|e| match e.syntax_error() {
            Some(s) => format!("invalid regex: {s}"),
            None => format!("invalid regex: {e}"),
        })
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn parse_kind(name: &str) -> Option<ValueKind> {
    Some(match name {
        "email" => ValueKind::Email,
        "ip" => ValueKind::Ip,
        "phone" => ValueKind::Phone,
        "card" => ValueKind::Card,
        "iban" => ValueKind::Iban,
        "bank_account" => ValueKind::BankAccount,
        "vat" => ValueKind::VatNumber,
        "nino" => ValueKind::NationalInsurance,
        "postcode" => ValueKind::Postcode,
        "secret" => ValueKind::Secret,
        "name" => ValueKind::Name,
        "other" => ValueKind::Other,
        _ => return None,
    })
}

/// The placeholder `redact` writes for a kind of value.
pub fn default_placeholder(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Email => "[EMAIL]",
        ValueKind::Ip => "[IP]",
        ValueKind::Phone => "[PHONE]",
        ValueKind::Card => "[CARD]",
        ValueKind::Iban => "[IBAN]",
        ValueKind::BankAccount => "[ACCOUNT]",
        ValueKind::VatNumber => "[VAT]",
        ValueKind::NationalInsurance => "[NINO]",
        ValueKind::Postcode => "[POSTCODE]",
        ValueKind::Secret => "[SECRET]",
        ValueKind::Name => "[NAME]",
        ValueKind::Other => "[REDACTED]",
    }
}

fn default_token(kind: ValueKind) -> Option<&'static str> {
    Some(match kind {
        ValueKind::Email => "email",
        ValueKind::Ip => "ip",
        ValueKind::Phone => "phone",
        ValueKind::Card => "card",
        ValueKind::Iban => "iban",
        ValueKind::BankAccount => "account",
        ValueKind::VatNumber => "vat",
        ValueKind::NationalInsurance => "nino",
        ValueKind::Postcode => "postcode",
        ValueKind::Secret => "secret",
        ValueKind::Name => "name",
        ValueKind::Other => return None,
    })
}

use crate::config::line_column;

#[cfg(test)]
mod tests;
