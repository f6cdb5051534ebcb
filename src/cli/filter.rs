//! `redactd filter`: log lines in, the same lines out, redacted.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::ValueEnum;
use redactd::filter::{self, Options};
use redactd::format::Format;
use redactd::metrics::Metrics;
use redactd::redact::Redactor;

use super::setup::{build_redactor, load_config, load_rules, CommonArgs};
use super::{Failure, EXIT_IO, EXIT_NO_INPUT};

/// Arguments of `filter`.
#[derive(clap::Args)]
pub struct FilterArgs {
    /// Input files (`-` for stdin); stdin when none. Gzip is detected by content.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    /// Line format; `auto` decides per line.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Apply a purpose profile of the configuration (e.g. `security`, `analytics`) to the
    /// structured fields of access-log and JSON lines.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// Lines longer than this are replaced by a marker line and counted; shorter lines are
    /// always scanned whole.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_line_bytes: usize,
    /// Print counters (lines, formats, redactions per rule) to stderr at exit.
    #[arg(long)]
    stats: bool,
    /// At exit, write the same counters as Prometheus text to PATH (for batch jobs and the
    /// node-exporter textfile collector). Written to PATH.tmp, then renamed into place.
    #[arg(long, value_name = "PATH")]
    stats_file: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Auto,
    Text,
    Json,
    Combined,
    Syslog,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Auto => Format::Auto,
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Combined => Format::Combined,
            FormatArg::Syslog => Format::Syslog,
        }
    }
}

/// Runs `filter`.
pub fn run(args: FilterArgs) -> Result<(), Failure> {
    let config = load_config(args.common.config.as_deref())?;
    let rules = load_rules(&config, &args.common)?;
    let redactor = Arc::new(build_redactor(
        &config,
        &rules,
        args.common.key_file.as_deref(),
        args.profile.as_deref(),
    )?);
    let files = if args.files.is_empty() {
        vec!["-".to_string()]
    } else {
        args.files
    };
    let mut inputs = Vec::with_capacity(files.len());
    for file in &files {
        let input = filter::open_input(file)
            .with_context(|| format!("cannot open {file}"))
            .map_err(|e| Failure(EXIT_NO_INPUT, e))?;
        inputs.push(input);
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let options = Options {
        format: args.format.into(),
        threads,
        max_line_bytes: args.max_line_bytes.max(1),
        ..Options::default()
    };
    watch_geoip(&redactor);
    // Output is flushed whenever the input goes idle (see `Batch::idle`) and at the end, so
    // a trickling pipe or a terminal sees each line as it comes.
    let output = io::BufWriter::with_capacity(256 * 1024, io::stdout());
    let stats = match filter::run(&redactor, inputs, output, &options) {
        Ok(stats) => Some(stats),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => None,
        Err(e) => {
            return Err(Failure(
                EXIT_IO,
                anyhow::Error::new(e).context("filter failed"),
            ))
        }
    };
    if let (true, Some(stats)) = (args.stats, &stats) {
        print_stats(&redactor, stats);
    }
    if let (Some(path), Some(stats)) = (&args.stats_file, &stats) {
        write_stats_file(path, &redactor, stats).map_err(|e| Failure(EXIT_IO, e))?;
    }
    Ok(())
}

/// The run's counters as Prometheus text, replacing `path` atomically (a textfile
/// collector never reads half a file).
fn write_stats_file(path: &Path, redactor: &Redactor, stats: &filter::Stats) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    metrics.record_filter_stats(stats, redactor);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, metrics.encode())
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write the stats file {}", path.display()))
}

/// A replaced GeoIP database is picked up without a restart: a background thread checks
/// the files every few seconds (a failed reload keeps the old database and says so).
fn watch_geoip(redactor: &Arc<Redactor>) {
    let Some(geo) = redactor.minimiser().and_then(|m| m.geo.clone()) else {
        return;
    };
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_secs(5));
        if let Err(e) = geo.reload_if_changed() {
            tracing::warn!(error = %e, "GeoIP reload failed; keeping the previous database.");
        }
    });
}

fn print_stats(redactor: &Redactor, stats: &filter::Stats) {
    let mut err = io::stderr().lock();
    let [text, json, combined, syslog] = stats.lines_by_format;
    let _ = writeln!(
        err,
        "redactd: {} lines ({} combined, {} json, {} syslog, {} text), {} bytes in, {} bytes out, {} oversize lines dropped",
        stats.lines, combined, json, syslog, text, stats.bytes_in, stats.bytes_out, stats.oversize_lines
    );
    for (rule, count) in redactor.rules().iter().zip(&stats.redactions) {
        if *count > 0 {
            let _ = writeln!(
                err,
                "redactd:   {:<20} {:<10} {:>10}",
                rule.id,
                rule.category.as_str(),
                count
            );
        }
    }
}
