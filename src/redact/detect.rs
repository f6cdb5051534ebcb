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
pub static BUILTINS: &[Builtin] = &[];

/// Looks a built-in detector up by name.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}
