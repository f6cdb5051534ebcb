//! Builds a [`Redactor`] from rules: one multi-pattern regex for every detector and regex
//! rule, Aho-Corasick automata for word lists, and the rules applied to whole fields.

use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::{meta, util::syntax, PatternID};

use super::detect::{accept_all, ValueKind, Verdict};
use super::Redactor;
use crate::pseudo::Pseudonymiser;
use crate::rules::{Action, Matcher, Rule, RuleSet};

/// Why a rule set could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The combined regex failed to build (a size limit, usually).
    #[error("cannot compile the rules' patterns: {0}")]
    Regex(String),
    /// A word list failed to build.
    #[error("cannot build the word lists: {0}")]
    Words(String),
    /// A rule pseudonymises but no key was given.
    #[error("rule `{0}` pseudonymises but no pseudonymisation key is configured")]
    NoKey(String),
}

/// What the scan needs to know about one regex pattern.
pub(super) struct PatternInfo {
    pub rule: usize,
    pub value_group: Option<usize>,
    pub check: fn(&[u8], Range<usize>) -> Verdict,
}

/// Rules applied to whole fields of structured lines rather than found by scanning.
#[derive(Default)]
pub(super) struct SpecialRules {
    pub ipv4: Option<usize>,
    pub ipv6: Option<usize>,
    pub card: Option<usize>,
    pub secret_value: Option<usize>,
    pub name_value: Option<usize>,
    pub user_field: Option<usize>,
}

/// The lazy DFA's cache per worker: big enough that dozens of patterns over access-log text
/// do not thrash it.
const HYBRID_CACHE_BYTES: usize = 4 * 1024 * 1024;

impl Redactor {
    /// Compiles `rules`. `pseudonymiser` is required when an enabled rule pseudonymises.
    pub fn new(rules: &RuleSet, pseudonymiser: Option<Pseudonymiser>) -> Result<Self, BuildError> {
        let rules: Vec<Rule> = rules
            .rules()
            .iter()
            .filter(|r| r.enabled)
            .cloned()
            .collect();
        if pseudonymiser.is_none() {
            if let Some(r) = rules.iter().find(|r| r.action == Action::Pseudonymise) {
                return Err(BuildError::NoKey(r.id.clone()));
            }
        }
        let mut sources = Vec::new();
        let mut patterns = Vec::new();
        let mut word_lists: [(Vec<String>, Vec<usize>); 2] = Default::default();
        let mut special = SpecialRules::default();
        for (index, rule) in rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::Builtin(b) => {
                    sources.push(b.pattern.to_string());
                    patterns.push((index, b.check));
                    match b.name {
                        "ipv4" => special.ipv4 = special.ipv4.or(Some(index)),
                        "ipv6" => special.ipv6 = special.ipv6.or(Some(index)),
                        "card" => special.card = special.card.or(Some(index)),
                        "secret_param" => {
                            special.secret_value = special.secret_value.or(Some(index))
                        }
                        "name_param" => special.name_value = special.name_value.or(Some(index)),
                        _ => {}
                    }
                }
                Matcher::Regex(re) => {
                    let flags = if rule.case_insensitive { "(?i)" } else { "" };
                    sources.push(format!("{flags}(?:{re})"));
                    patterns.push((index, accept_all as fn(&[u8], Range<usize>) -> Verdict));
                }
                Matcher::Words(words) => {
                    let list = &mut word_lists[rule.case_insensitive as usize];
                    for w in words {
                        list.0.push(w.clone());
                        list.1.push(index);
                    }
                }
                Matcher::Field(name) if name == "user" => {
                    special.user_field = special.user_field.or(Some(index));
                }
                Matcher::Field(_) => {}
            }
        }
        // An IP rule that is not built in (a user's `kind = "ip"` regex) still treats
        // client fields when the built-in ones are disabled.
        if special.ipv4.is_none() || special.ipv6.is_none() {
            let any_ip = rules.iter().position(|r| r.kind == ValueKind::Ip);
            special.ipv4 = special.ipv4.or(any_ip);
            special.ipv6 = special.ipv6.or(any_ip);
        }
        let regex = if sources.is_empty() {
            None
        } else {
            let re = meta::Regex::builder()
                .configure(
                    meta::Config::new()
                        .match_kind(regex_automata::MatchKind::LeftmostFirst)
                        .hybrid_cache_capacity(HYBRID_CACHE_BYTES)
                        .nfa_size_limit(Some(64 << 20)),
                )
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build_many(&sources)
                .map_err(|e| BuildError::Regex(e.to_string()))?;
            Some(re)
        };
        let patterns = patterns
            .into_iter()
            .enumerate()
            .map(|(pid, (rule, check))| PatternInfo {
                rule,
                value_group: regex.as_ref().and_then(|re| {
                    re.group_info()
                        .to_index(PatternID::new_unchecked(pid), "value")
                }),
                check,
            })
            .collect();
        let prefilter = rules
            .iter()
            .all(|r| !matches!(r.matcher, Matcher::Regex(_)))
            .then(super::prefilter::Prefilter::new);
        let mut words = Vec::new();
        for (ci, (list, owners)) in word_lists.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .ascii_case_insensitive(ci == 1)
                .build(&list)
                .map_err(|e| BuildError::Words(e.to_string()))?;
            words.push((ac, owners));
        }
        Ok(Redactor {
            rules,
            regex,
            patterns,
            words,
            pseudonymiser,
            special,
            prefilter,
            minimiser: None,
        })
    }
}
