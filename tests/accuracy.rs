//! The labelled accuracy suite: recall per type of personal data, keep rate per kind of
//! look-alike, over the generated corpus in `tests/accuracy/corpus.tsv`.
//!
//! The corpus is written by `tests/accuracy/gen_corpus.py` (fixed seed, standard library
//! only; its docstring describes the format). Each record is a log line in one of the
//! formats redactd handles and its labels: the personal data planted in it, exactly as
//! written, and the look-alikes that must survive. Every line goes through the library with
//! the shipped rules and `Format::Auto`, as `redactd filter` runs by default.
//!
//! * **Recall** of a type: the share of its planted values that no longer appear in the
//!   output (masked cards and IBANs keep their last 4 digits and postcodes their outward
//!   code, but the whole written value must be gone).
//! * **Keep rate** of a look-alike kind: the share that still appears in the output.
//!
//! The test fails below [`MIN_RECALL`] or [`MIN_KEEP`] for any type (unless [`OVERRIDES`]
//! says otherwise, with the reason), listing the first misses with their lines. Run with
//! `cargo test --test accuracy -- --nocapture` to see the table, and with
//! `ACCURACY_MISSES=FILE` to have every miss written to FILE (tab-separated: corpus line,
//! type, keep, value, input line, output line).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use redactd::format::Format;
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

/// Lowest recall accepted for a type of personal data.
const MIN_RECALL: f64 = 0.99;
/// Lowest keep rate accepted for a kind of look-alike.
const MIN_KEEP: f64 = 0.99;
/// Fewest records in the corpus, and fewest labels of each type or kind.
const MIN_LINES: usize = 2000;
const MIN_PER_TYPE: usize = 100;
/// How many misses per type the failure message shows.
const SHOW_MISSES: usize = 5;

/// Temporary per-type thresholds: `(type, threshold, reason)`. Each one is a known detector
/// gap, reported and awaiting a fix; the corpus is not weakened to hide it. Remove the
/// entry when the detector is fixed.
const OVERRIDES: &[(&str, f64, &str)] = &[];

/// Every type of personal data the corpus must plant.
const PII_TYPES: &[&str] = &[
    "email",
    "ipv4",
    "ipv6",
    "phone_uk",
    "phone_intl",
    "phone_nanp",
    "card",
    "iban",
    "uk_bank_account",
    "vat_gb",
    "nino",
    "postcode_uk",
    "jwt",
    "auth_credential",
    "secret_param",
    "whmcs_cookie",
    "url_password",
    "person_name",
    "access_user",
];

/// Every kind of look-alike the corpus must plant.
const KEEP_KINDS: &[&str] = &[
    "version",
    "timestamp",
    "byte_count",
    "order_number",
    "uuid",
    "luhn_fail",
    "iban_bad_check",
    "nino_bad_prefix",
    "hex_id",
    "mac",
    "time",
    "cpp_path",
    "short_date",
];

#[derive(serde::Deserialize)]
struct Label {
    #[serde(rename = "type")]
    kind: String,
    value: String,
    keep: bool,
}

struct Record {
    /// Line number in `corpus.tsv` (1-based).
    at: usize,
    format: String,
    line: String,
    labels: Vec<Label>,
}

fn corpus_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/accuracy/corpus.tsv")
}

fn load() -> Vec<Record> {
    let text = std::fs::read_to_string(corpus_path()).expect("tests/accuracy/corpus.tsv");
    let mut records = Vec::new();
    for (i, row) in text.lines().enumerate() {
        if row.is_empty() || row.starts_with('#') {
            continue;
        }
        let at = i + 1;
        let mut cols = row.splitn(3, '\t');
        let (Some(format), Some(line), Some(labels)) = (cols.next(), cols.next(), cols.next())
        else {
            panic!("corpus.tsv:{at}: expected 3 tab-separated columns");
        };
        records.push(Record {
            at,
            format: format.to_string(),
            line: serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("corpus.tsv:{at}: line: {e}")),
            labels: serde_json::from_str(labels)
                .unwrap_or_else(|e| panic!("corpus.tsv:{at}: labels: {e}")),
        });
    }
    records
}

/// The format `Format::Auto` must find for a record's format.
fn expected_format(format: &str) -> Format {
    match format {
        "combined" => Format::Combined,
        "json" => Format::Json,
        "syslog3164" | "syslog5424" => Format::Syslog,
        "text" => Format::Text,
        other => panic!("unknown format {other:?} in corpus"),
    }
}

/// The forms a label's value may take in the output. In a JSON line a value is written
/// with JSON escapes (`\u0040`, `\/`), and redactd re-escapes a string it changed in its
/// own way, so the decoded form counts too: personal data must be gone in both forms, a
/// look-alike present in either.
fn forms(value: &str, json: bool) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    if json && value.contains('\\') {
        if let Ok(decoded) = serde_json::from_str::<String>(&format!("\"{value}\"")) {
            forms.push(decoded);
        }
    }
    forms
}

struct Miss {
    at: usize,
    value: String,
    line: String,
    output: String,
}

#[derive(Default)]
struct Tally {
    count: usize,
    ok: usize,
    misses: Vec<Miss>,
}

impl Tally {
    fn rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.ok as f64 / self.count as f64
        }
    }
}

fn threshold(kind: &str, keep: bool) -> f64 {
    OVERRIDES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(if keep { MIN_KEEP } else { MIN_RECALL }, |o| o.1)
}

#[test]
fn accuracy() {
    let records = load();
    assert!(
        records.len() >= MIN_LINES,
        "corpus too small: {} records, want at least {MIN_LINES}",
        records.len()
    );

    let redactor = Redactor::new(
        &RuleSet::shipped(),
        Some(Pseudonymiser::new(&Key::from_bytes([7; 32]))),
    )
    .expect("shipped rules compile");
    let mut scratch = redactor.scratch();
    let mut out = Vec::new();

    let mut pii: BTreeMap<String, Tally> = BTreeMap::new();
    let mut keep: BTreeMap<String, Tally> = BTreeMap::new();
    let mut per_format: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong_format = Vec::new();

    for r in &records {
        out.clear();
        let used = redactor.redact_line(r.line.as_bytes(), Format::Auto, &mut out, &mut scratch);
        *per_format.entry(r.format.clone()).or_default() += 1;
        if used != expected_format(&r.format) {
            wrong_format.push(format!(
                "corpus.tsv:{}: {} line read as {used:?}: {}",
                r.at, r.format, r.line
            ));
        }
        let output = String::from_utf8_lossy(&out);
        let json = r.format == "json";
        for l in &r.labels {
            let found = forms(&l.value, json)
                .iter()
                .any(|f| output.contains(f.as_str()));
            let ok = if l.keep { found } else { !found };
            let tally = if l.keep { &mut keep } else { &mut pii };
            let t = tally.entry(l.kind.clone()).or_default();
            t.count += 1;
            if ok {
                t.ok += 1;
            } else {
                t.misses.push(Miss {
                    at: r.at,
                    value: l.value.clone(),
                    line: r.line.clone(),
                    output: output.clone().into_owned(),
                });
            }
        }
    }

    // Every miss, for whoever fixes a detector: `ACCURACY_MISSES=misses.tsv`.
    if let Some(path) = std::env::var_os("ACCURACY_MISSES") {
        let mut dump = String::from("# corpus line\ttype\tkeep\tvalue\tinput\toutput\n");
        for (tally, keep) in [(&pii, false), (&keep, true)] {
            for (kind, t) in tally {
                for m in &t.misses {
                    let _ = writeln!(
                        dump,
                        "{}\t{kind}\t{keep}\t{}\t{}\t{}",
                        m.at,
                        m.value,
                        m.line.replace('\t', "\\t"),
                        m.output.replace('\t', "\\t")
                    );
                }
            }
        }
        std::fs::write(&path, dump).expect("write ACCURACY_MISSES");
    }

    // The table, in the README's form.
    let mut table = String::new();
    let _ = writeln!(table, "\nredactd accuracy over {} lines", records.len());
    let formats: Vec<String> = per_format.iter().map(|(f, n)| format!("{f} {n}")).collect();
    let _ = writeln!(table, "({})\n", formats.join(", "));
    let _ = writeln!(table, "| personal data | planted | recall | missed |");
    let _ = writeln!(table, "|---|--:|--:|--:|");
    for kind in PII_TYPES {
        let t = pii.get(*kind).map_or_else(Tally::default, |t| Tally {
            count: t.count,
            ok: t.ok,
            misses: Vec::new(),
        });
        let _ = writeln!(
            table,
            "| `{kind}` | {} | {:.4} | {} |",
            t.count,
            t.rate(),
            t.count - t.ok
        );
    }
    let _ = writeln!(table, "\n| look-alike | planted | kept | lost |");
    let _ = writeln!(table, "|---|--:|--:|--:|");
    for kind in KEEP_KINDS {
        let (count, ok) = keep.get(*kind).map_or((0, 0), |t| (t.count, t.ok));
        let rate = if count == 0 {
            0.0
        } else {
            ok as f64 / count as f64
        };
        let _ = writeln!(table, "| `{kind}` | {count} | {rate:.4} | {} |", count - ok);
    }
    println!("{table}");

    // Failures: coverage, format detection, thresholds.
    let mut problems = Vec::new();
    for (kinds, tally, what) in [(PII_TYPES, &pii, "type"), (KEEP_KINDS, &keep, "look-alike")] {
        for kind in kinds {
            let n = tally.get(*kind).map_or(0, |t| t.count);
            if n < MIN_PER_TYPE {
                problems.push(format!(
                    "{what} `{kind}`: only {n} planted, want {MIN_PER_TYPE}"
                ));
            }
        }
        for kind in tally.keys() {
            if !kinds.contains(&kind.as_str()) {
                problems.push(format!("unknown {what} `{kind}` in the corpus"));
            }
        }
    }
    if !wrong_format.is_empty() {
        problems.push(format!(
            "{} lines not read as their format, first: {}",
            wrong_format.len(),
            wrong_format[..wrong_format.len().min(SHOW_MISSES)].join("\n  ")
        ));
    }
    for (tally, keep) in [(&pii, false), (&keep, true)] {
        for (kind, t) in tally {
            let min = threshold(kind, keep);
            if t.rate() >= min {
                continue;
            }
            let mut msg = format!(
                "`{kind}`: {} {:.4} < {min} ({} of {} {})",
                if keep { "keep rate" } else { "recall" },
                t.rate(),
                t.count - t.ok,
                t.count,
                if keep { "lost" } else { "left in the output" },
            );
            for m in t.misses.iter().take(SHOW_MISSES) {
                let _ = write!(
                    msg,
                    "\n    corpus.tsv:{} value {:?}\n      in:  {}\n      out: {}",
                    m.at, m.value, m.line, m.output
                );
            }
            problems.push(msg);
        }
    }
    for (kind, min, reason) in OVERRIDES {
        println!("override: `{kind}` threshold {min}: {reason}");
    }
    assert!(
        problems.is_empty(),
        "accuracy suite failed:\n  {}",
        problems.join("\n  ")
    );
}

/// The committed corpus is the generator's output (skipped when `python3` is missing).
#[test]
fn corpus_matches_generator() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/accuracy/gen_corpus.py");
    let Ok(out) = std::process::Command::new("python3").arg(&script).output() else {
        eprintln!("python3 not found: corpus_matches_generator skipped");
        return;
    };
    assert!(
        out.status.success(),
        "gen_corpus.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = std::fs::read(corpus_path()).unwrap();
    assert!(
        out.stdout == committed,
        "tests/accuracy/corpus.tsv is stale: run \
         `python3 tests/accuracy/gen_corpus.py > tests/accuracy/corpus.tsv`"
    );
}
