//! Inputs of `redactd run`: stdin and a syslog receiver, and the [`Router`] that turns each
//! line into one minimised record per sink.
//!
//! An input only frames bytes into lines (or messages); it never matches patterns. The
//! router redacts a line once per distinct profile among the input's sinks (one shared
//! `Arc<Redactor>` per profile, one [`Scratch`] per profile per task), encodes the result
//! for each sink and pushes it. Only that minimised record is queued: the raw line never
//! leaves the input task.
//!
//! Inputs that can wait (stdin, TCP syslog) wait when a sink's policy is `block`; UDP never
//! waits and drops (counted by the sink) when a queue is full.

pub mod stdin;
pub mod syslog;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use bytes::Bytes;

use crate::format::Format;
use crate::redact::{Redactor, Scratch};
use crate::sink::encode::{encode, Encoding, Event};
use crate::sink::SinkHandle;

/// A sink as an input sees it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where records go.
    pub sink: SinkHandle,
    /// How they are encoded for it.
    pub encoding: Encoding,
}

/// The sinks sharing one profile, and that profile's redactor.
#[derive(Debug, Clone)]
pub struct Route {
    /// The redactor built with the profile.
    pub redactor: Arc<Redactor>,
    /// The sinks bound to it.
    pub targets: Vec<Target>,
}

/// Counters of one input.
#[derive(Debug, Default)]
pub struct InputStats {
    /// Lines or messages received.
    pub records: AtomicU64,
    /// Lines or messages dropped for being longer than the limit.
    pub oversize: AtomicU64,
}

/// Redacts a line per profile and pushes it to every sink of an input.
#[derive(Debug)]
pub struct Router {
    name: Arc<str>,
    format: Format,
    routes: Vec<Route>,
    /// The redactors in force, one per route; replaced whole on reload.
    redactors: RwLock<Arc<[Arc<Redactor>]>>,
    /// Bumped on every reload, so tasks rebuild their scratches.
    generation: AtomicU64,
    stats: Arc<InputStats>,
    /// Matches transformed so far, by rule id and category (of the first route's profile,
    /// so each line counts once).
    redactions: std::sync::Mutex<std::collections::BTreeMap<(String, &'static str), u64>>,
}

/// Per-task state of a [`Router`].
pub struct RouterScratch {
    generation: u64,
    redactors: Arc<[Arc<Redactor>]>,
    scratches: Vec<Scratch>,
    line: Vec<u8>,
    out: Vec<(usize, usize, Bytes)>,
    enc: Vec<u8>,
}

impl Router {
    /// A router for the input called `name`, parsing lines as `format`.
    pub fn new(name: &str, format: Format, routes: Vec<Route>) -> Router {
        let redactors: Arc<[Arc<Redactor>]> = routes.iter().map(|r| r.redactor.clone()).collect();
        Router {
            name: name.into(),
            format,
            routes,
            redactors: RwLock::new(redactors),
            generation: AtomicU64::new(0),
            stats: Arc::default(),
            redactions: Default::default(),
        }
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The routes: one per profile, with its redactor and sinks.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Matches transformed so far, by rule id and category.
    pub fn redactions(&self) -> Vec<((String, &'static str), u64)> {
        let totals = self.redactions.lock().unwrap_or_else(|p| p.into_inner());
        totals.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// The input's counters.
    pub fn stats(&self) -> &Arc<InputStats> {
        &self.stats
    }

    /// Puts new redactors in force, one per route in [`Router::routes`] order (the reload):
    /// every line read from now on is redacted with them. False when the count differs.
    pub fn replace_redactors(&self, redactors: Vec<Arc<Redactor>>) -> bool {
        if redactors.len() != self.routes.len() {
            return false;
        }
        let mut slot = self.redactors.write().unwrap_or_else(|p| p.into_inner());
        *slot = redactors.into();
        self.generation.fetch_add(1, Relaxed);
        true
    }

    fn current(&self) -> (u64, Arc<[Arc<Redactor>]>) {
        let slot = self.redactors.read().unwrap_or_else(|p| p.into_inner());
        (self.generation.load(Relaxed), slot.clone())
    }

    /// State for one task.
    pub fn scratch(&self) -> RouterScratch {
        let (generation, redactors) = self.current();
        RouterScratch {
            generation,
            scratches: redactors.iter().map(|r| r.scratch()).collect(),
            redactors,
            line: Vec::new(),
            out: Vec::new(),
            enc: Vec::new(),
        }
    }

    /// Counts a line dropped for its size.
    pub fn oversize(&self) {
        self.stats.oversize.fetch_add(1, Relaxed);
    }

    /// Redacts and encodes `line` for every target into `s.out`; false for an empty line.
    fn prepare(&self, line: &[u8], s: &mut RouterScratch) -> bool {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        s.out.clear();
        if line.is_empty() {
            return false;
        }
        self.stats.records.fetch_add(1, Relaxed);
        if self.generation.load(Relaxed) != s.generation {
            let (generation, redactors) = self.current();
            s.scratches = redactors.iter().map(|r| r.scratch()).collect();
            s.redactors = redactors;
            s.generation = generation;
        }
        let time = SystemTime::now();
        for (ri, route) in self.routes.iter().enumerate() {
            s.line.clear();
            let scratch = &mut s.scratches[ri];
            scratch.reset_counts();
            let used = s.redactors[ri].redact_line(line, self.format, &mut s.line, scratch);
            if ri == 0 && scratch.counts.iter().any(|&c| c > 0) {
                let mut totals = self.redactions.lock().unwrap_or_else(|p| p.into_inner());
                for (rule, &n) in s.redactors[0].rules().iter().zip(&scratch.counts) {
                    if n > 0 {
                        *totals
                            .entry((rule.id.clone(), rule.category.as_str()))
                            .or_default() += n;
                    }
                }
            }
            let ev = Event {
                time,
                input: &self.name,
                format: used,
                line: &s.line,
            };
            for (ti, t) in route.targets.iter().enumerate() {
                s.enc.clear();
                encode(&t.encoding, &ev, &mut s.enc);
                s.out.push((ri, ti, Bytes::copy_from_slice(&s.enc)));
            }
        }
        true
    }

    /// Routes one line from a thread that may block (stdin).
    pub fn send_blocking(&self, line: &[u8], s: &mut RouterScratch) {
        if self.prepare(line, s) {
            for (ri, ti, rec) in s.out.drain(..) {
                self.routes[ri].targets[ti].sink.push_blocking(rec);
            }
        }
    }

    /// Routes one line from an async input; `can_wait` is false for UDP.
    pub async fn send(&self, line: &[u8], s: &mut RouterScratch, can_wait: bool) {
        if self.prepare(line, s) {
            for (ri, ti, rec) in s.out.drain(..) {
                self.routes[ri].targets[ti].sink.push(rec, can_wait).await;
            }
        }
    }
}
