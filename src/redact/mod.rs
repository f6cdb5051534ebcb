//! The redaction engine: finds personal data in text and transforms it per rule.
//!
//! A [`Redactor`] is compiled once from a [`RuleSet`](crate::rules::RuleSet) and shared
//! read-only (`Arc`) by every worker; each worker owns a [`Scratch`] with the regex cache,
//! reused buffers and its counters, so the hot path takes no locks and allocates nothing per
//! line once warm.
//!
//! # How a string is scanned
//!
//! 1. One leftmost-first search of a single multi-pattern regex holding every detector's
//!    pattern (ASCII mode, lazy DFA), plus one Aho-Corasick pass when word lists exist.
//! 2. Each regex candidate is confirmed by its detector's check (Luhn, mod-97, octet
//!    ranges, context); a rejected candidate resumes the search just after its start.
//! 3. **Overlap rule**: the leftmost match wins; at the same start the longer one wins; at
//!    the same start and length the rule listed first wins (rule files in load order, rules
//!    in file order). Example: in `password=jane@example.com` the `secret-param` match
//!    starts at `password` and wins over the e-mail candidate that starts later, so the whole
//!    value becomes `[SECRET]`.
//! 4. Accepted matches are replaced by their rule's action while the rest is copied.
//!
//! The engine knows nothing of I/O, threads or metrics: it returns counts in [`Scratch`].

pub mod action;
mod compile;
pub mod detect;
mod line;
mod member;
mod minimise;
mod prefilter;
mod scan;
pub mod stream;

use rustc_hash::{FxHashMap, FxHashSet};

use regex_automata::{meta, util::captures::Captures};

use crate::format::Field;
use crate::minimise::{agent::AgentGeneraliser, geo::GeoCache, Minimiser};
use crate::pseudo::Pseudonymiser;
use crate::rules::Rule;

pub use compile::BuildError;
pub use member::JsonMember;

/// The compiled rule set. Build once with [`Redactor::new`], share with `Arc`.
pub struct Redactor {
    rules: Vec<Rule>,
    /// One regex holding every regex-based rule's pattern.
    regex: Option<meta::Regex>,
    /// Per regex pattern: its rule index, the `value` group index, and its check.
    patterns: Vec<compile::PatternInfo>,
    /// Word-list automata (case-sensitive, case-insensitive) with pattern → rule index.
    words: Vec<(aho_corasick::AhoCorasick, Vec<usize>)>,
    pseudonymiser: Option<Pseudonymiser>,
    /// Rules applied to whole fields, found once at build time.
    special: compile::SpecialRules,
    /// Skips the regex search on text that no built-in pattern can match; `None` when a
    /// custom regex rule is enabled (its pattern may match anything).
    prefilter: Option<prefilter::Prefilter>,
    /// The purpose profile applied to structured fields, if any.
    minimiser: Option<Minimiser>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("rules", &self.rules.len())
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

/// A candidate accepted by the scan: `span` of the haystack to transform by `rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Where the whole match begins: before `start` when the rule transforms only a part
    /// (the value after `password=`). Nothing may be cut between the two.
    pub match_start: usize,
    /// Start offset of the part transformed.
    pub start: usize,
    /// End offset (exclusive).
    pub end: usize,
    /// Index of the rule in [`Redactor::rules`].
    pub rule: usize,
}

/// Per-worker mutable state: caches, reused buffers and counters.
pub struct Scratch {
    cache: Option<meta::Cache>,
    captures: Option<Captures>,
    hits: Vec<Hit>,
    /// Spans the last scan's cursor jumped over, `(start, resume)`: every candidate looked
    /// at, accepted or not. A stream may cut only outside them (see `stream.rs`).
    busy: Vec<(usize, usize)>,
    fields: Vec<Field>,
    text: Vec<u8>,
    unescaped: Vec<u8>,
    /// A member value being written ([`Redactor::redact_json_member`]).
    member: Vec<u8>,
    normalised: Vec<u8>,
    cache_key: Vec<u8>,
    tokens: FxHashMap<Vec<u8>, Box<[u8]>>,
    /// User agents and referrers already scanned and found clean: they repeat a lot, and a
    /// clean value is clean again, so a hit here skips the scan.
    clean_fields: FxHashSet<Box<[u8]>>,
    /// User-agent generalisations seen recently (profiles that generalise agents).
    agents: AgentGeneraliser,
    /// GeoIP answers seen recently (profiles that generalise addresses).
    geo: GeoCache,
    /// Matches transformed, per rule index.
    pub counts: Vec<u64>,
}

impl Scratch {
    /// Forgets the pseudonym tokens and clean field values remembered so far, as a fresh
    /// scratch would (output never depends on them; tests and fuzz targets check that).
    pub fn forget_remembered(&mut self) {
        self.tokens.clear();
        self.clean_fields.clear();
    }
}

/// How many pseudonym tokens a worker caches before starting over.
const TOKEN_CACHE_ENTRIES: usize = 64 * 1024;
/// How many clean field values a worker remembers before starting over.
const CLEAN_CACHE_ENTRIES: usize = 8 * 1024;
/// Longer field values are not remembered.
const CLEAN_CACHE_MAX_BYTES: usize = 512;

impl Redactor {
    /// The rules, in order; indexes match [`Hit::rule`] and [`Scratch::counts`].
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Applies a purpose profile to the structured fields of every line from now on.
    pub fn with_minimiser(mut self, minimiser: Minimiser) -> Self {
        self.minimiser = Some(minimiser);
        self
    }

    /// The profile applied, if any.
    pub fn minimiser(&self) -> Option<&Minimiser> {
        self.minimiser.as_ref()
    }

    /// A fresh scratch for one worker.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            cache: self.regex.as_ref().map(|r| r.create_cache()),
            captures: self.regex.as_ref().map(|r| r.create_captures()),
            hits: Vec::new(),
            busy: Vec::new(),
            fields: Vec::new(),
            text: Vec::new(),
            unescaped: Vec::new(),
            member: Vec::new(),
            normalised: Vec::new(),
            cache_key: Vec::new(),
            tokens: FxHashMap::default(),
            clean_fields: FxHashSet::default(),
            agents: AgentGeneraliser::new(4096),
            geo: GeoCache::new(16 * 1024),
            counts: vec![0; self.rules.len()],
        }
    }

    /// Finds the personal data in `hay` (after validation and overlap resolution) into
    /// `s`'s hit list and returns it.
    pub fn find<'s>(&self, hay: &[u8], s: &'s mut Scratch) -> &'s [Hit] {
        self.scan(hay, s);
        &s.hits
    }

    /// Redacts free text: appends `text` to `out` with every match transformed.
    pub fn redact_text(&self, text: &[u8], out: &mut Vec<u8>, s: &mut Scratch) {
        self.scan(text, s);
        if s.hits.is_empty() {
            out.extend_from_slice(text);
            return;
        }
        let hits = std::mem::take(&mut s.hits);
        let mut at = 0;
        for hit in &hits {
            out.extend_from_slice(&text[at..hit.start]);
            self.apply(hit.rule, &text[hit.start..hit.end], out, s);
            at = hit.end;
        }
        out.extend_from_slice(&text[at..]);
        s.hits = hits;
    }

    /// Convenience for tests and tools: redacts `text` as free text into a new string.
    pub fn redact_str(&self, text: &str, s: &mut Scratch) -> String {
        let mut out = Vec::with_capacity(text.len());
        self.redact_text(text.as_bytes(), &mut out, s);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Scratch {
    /// Sets every counter back to zero.
    pub fn reset_counts(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }
}
