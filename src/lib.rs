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
//! * [`format`](mod@format) splits a log line into its fields and renders it back in the same format.
//! * [`filter`] is the stdin/files → stdout pipeline, multi-threaded and order-preserving.
//! * [`proxy`] is the reverse proxy: one minimised access record per request, optional
//!   response-body DLP.
//! * [`admin`] serves `/metrics`, `/healthz` and `/readyz` on a listener of its own.
//! * [`telemetry`] sets up redactd's own logs (`tracing`), which never hold a value from traffic.
//! * [`metrics`] owns every Prometheus metric name; the engine returns counts, callers record them.
#![deny(missing_docs)]

pub mod admin;
pub mod config;
pub mod filter;
pub mod format;
pub mod input;
pub mod metrics;
pub mod minimise;
pub mod proxy;
pub mod pseudo;
pub mod redact;
pub mod rules;
pub mod sink;
pub mod telemetry;
