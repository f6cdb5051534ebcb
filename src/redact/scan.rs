//! The scan: one leftmost-first regex search with validation, word lists, and the overlap
//! rule (see the module docs of [`crate::redact`]).

use regex_automata::{Anchored, Input, PatternID};

use super::detect::Verdict;
use super::{Hit, Redactor, Scratch};

impl Redactor {
    /// Fills `s.hits` with the accepted, non-overlapping matches in `hay`, sorted by start.
    pub(super) fn scan(&self, hay: &[u8], s: &mut Scratch) {
        self.scan_from(hay, 0, s)
    }

    /// Like [`scan`](Self::scan) for matches starting at `from` or later; the bytes before
    /// `from` are still seen as context (word boundaries, look-behind in checks).
    pub(super) fn scan_from(&self, hay: &[u8], from: usize, s: &mut Scratch) {
        s.hits.clear();
        s.busy.clear();
        let may_match = match &self.prefilter {
            Some(p) => p.may_match(&hay[from.min(hay.len())..]),
            None => true,
        };
        if let (Some(re), true) = (&self.regex, may_match) {
            let cache = s.cache.as_mut().expect("a scratch made by this redactor");
            let mut at = from;
            while at < hay.len() {
                let Some(m) = re.search_with(cache, &Input::new(hay).range(at..)) else {
                    break;
                };
                let info = &self.patterns[m.pattern().as_usize()];
                let span = match info.value_group {
                    None => Some(m.range()),
                    Some(group) => {
                        let caps = s
                            .captures
                            .as_mut()
                            .expect("a scratch made by this redactor");
                        let input = Input::new(hay).range(m.range()).anchored(Anchored::Pattern(
                            PatternID::new_unchecked(m.pattern().as_usize()),
                        ));
                        re.search_captures_with(cache, &input, caps);
                        // A pattern whose matching alternative has no `value` group hands
                        // its whole match to the check.
                        Some(caps.get_group(group).map_or(m.range(), |sp| sp.range()))
                    }
                };
                let verdict = match span {
                    Some(span) if !span.is_empty() => (info.check)(hay, span),
                    _ => Verdict::Reject(m.start() + 1),
                };
                let mut busy_start = m.start();
                match verdict {
                    Verdict::Accept(span) if span.start < span.end && span.end <= hay.len() => {
                        busy_start = busy_start.min(span.start);
                        let end = span.end;
                        // Keep hits ordered and disjoint even if a check widened a span
                        // backwards over an earlier hit.
                        if s.hits.last().map_or(true, |h| h.end <= span.start) {
                            s.hits.push(Hit {
                                match_start: m.start().min(span.start),
                                start: span.start,
                                end,
                                rule: info.rule,
                            });
                        }
                        at = m.end().max(end).max(m.start() + 1);
                    }
                    Verdict::Accept(_) => at = m.start() + 1,
                    Verdict::Reject(resume) => at = resume.max(m.start() + 1),
                }
                s.busy.push((busy_start, at));
            }
        }
        if !self.words.is_empty() {
            self.scan_words(hay, from, s);
        }
    }

    fn scan_words(&self, hay: &[u8], from: usize, s: &mut Scratch) {
        let before = s.hits.len();
        for (ac, owners) in &self.words {
            for m in ac.find_iter(aho_corasick::Input::new(hay).range(from..)) {
                let word = &hay[m.start()..m.end()];
                let bounded_left =
                    m.start() == 0 || !is_word_byte(hay[m.start() - 1]) || !is_word_byte(word[0]);
                let bounded_right = m.end() == hay.len()
                    || !is_word_byte(hay[m.end()])
                    || !is_word_byte(word[word.len() - 1]);
                s.busy.push((m.start(), m.end()));
                if bounded_left && bounded_right {
                    s.hits.push(Hit {
                        match_start: m.start(),
                        start: m.start(),
                        end: m.end(),
                        rule: owners[m.pattern().as_usize()],
                    });
                }
            }
        }
        if s.hits.len() == before {
            return;
        }
        resolve_overlaps(&mut s.hits);
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Applies the overlap rule: leftmost first, then longest, then the rule listed first.
pub(super) fn resolve_overlaps(hits: &mut Vec<Hit>) {
    hits.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.rule.cmp(&b.rule))
    });
    let mut last_end = 0;
    hits.retain(|h| {
        if h.start >= last_end {
            last_end = h.end;
            true
        } else {
            false
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(start: usize, end: usize, rule: usize) -> Hit {
        Hit {
            match_start: start,
            start,
            end,
            rule,
        }
    }

    #[test]
    fn overlap_rule_prefers_leftmost_then_longest_then_first_rule() {
        let mut hits = vec![
            hit(5, 9, 0),
            hit(2, 6, 3),
            hit(2, 8, 4),
            hit(10, 12, 2),
            hit(10, 12, 1),
        ];
        resolve_overlaps(&mut hits);
        assert_eq!(hits, vec![hit(2, 8, 4), hit(10, 12, 1)]);
    }
}
