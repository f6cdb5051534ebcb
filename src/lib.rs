//! redactd keeps personal data out of logs.
//!
//! ```text
//!  input (stdin, files, syslog, proxy)         engine                      output
//!  ───────────────────────────────────         ──────                      ──────
//!  bytes ─► filter::LineReader ─► lines ─► format::{combined,json,syslog}  ─► same format,
//!                                          splits a line into fields        redacted
//!                                               │
//!                                               ▼
//!                                    redact::Redactor (compiled once,
//!                                    shared read-only): one regex pass +
//!                                    word lists ─► validators ─► overlap
//!                                    rule ─► actions (redact, mask,
//!                                    pseudonymise, truncate, drop, keep)
//!                                               │
//!                                    pseudo::Pseudonymiser (keyed HMAC)
//! ```
//!
//! * [`rules`] loads rule files (TOML) and reports errors with file, line and column.
//! * [`redact`] is the engine: it knows nothing of I/O, threads or metrics and returns counts.
//! * [`format`] splits a log line into its fields and renders it back in the same format.
//! * [`filter`] is the stdin/files → stdout pipeline, multi-threaded and order-preserving.
//! * [`proxy`] is the reverse proxy: one minimised access record per request, optional
//!   response-body DLP.
#![deny(missing_docs)]

pub mod config;
pub mod filter;
pub mod format;
pub mod input;
pub mod minimise;
pub mod proxy;
pub mod pseudo;
pub mod redact;
pub mod rules;
pub mod sink;
