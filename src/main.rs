//! The `redactd` command line. See `redactd --help`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use redactd::filter::{self, Options};
use redactd::format::Format;
use redactd::pseudo::{Key, Pseudonymiser, KEY_ENV, KEY_FILE_ENV};
use redactd::redact::Redactor;
use redactd::rules::{Action, Matcher, RuleSet};

/// Exit status for a bad configuration, rule file or key (sysexits EX_USAGE).
const EXIT_CONFIG: u8 = 64;
/// Exit status when an input file cannot be opened (EX_NOINPUT).
const EXIT_NO_INPUT: u8 = 66;
/// Exit status for a read or write error (EX_IOERR).
const EXIT_IO: u8 = 74;

#[derive(Parser)]
#[command(name = "redactd", version, about = "Keeps personal data out of logs.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Redact log lines: stdin or FILES in, the same lines out on stdout.
    ///
    /// One line out per line in, same order, same format, with personal data redacted or
    /// pseudonymised. Gzip files are read transparently. Exit status: 0 on success (also
    /// when stdout is closed early), 64 bad rules or key, 66 an input cannot be opened,
    /// 74 a read or write error.
    Filter(FilterArgs),
    /// Inspect rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(clap::Args)]
struct RuleArgs {
    /// Extra rule file(s), loaded after the shipped rules; a rule with a shipped rule's id
    /// replaces it. Repeatable.
    #[arg(long = "rules", value_name = "FILE")]
    rule_files: Vec<PathBuf>,
    /// Do not load the shipped rules.
    #[arg(long)]
    no_default_rules: bool,
}

#[derive(clap::Args)]
struct FilterArgs {
    /// Input files (`-` for stdin); stdin when none. Gzip is detected by content.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    /// Line format; `auto` decides per line.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Pseudonymisation key file (64 hex digits, mode 0600). Without it: $REDACTD_KEY,
    /// else the default key file, created on first use.
    #[arg(long, value_name = "PATH", env = KEY_FILE_ENV)]
    key_file: Option<PathBuf>,
    /// Lines longer than this are replaced by a marker line and counted; shorter lines are
    /// always scanned whole.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_line_bytes: usize,
    /// Print counters (lines, formats, redactions per rule) to stderr at exit.
    #[arg(long)]
    stats: bool,
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

#[derive(Subcommand)]
enum RulesCommand {
    /// List the rules in load order: id, category, matcher, action.
    List(RuleArgs),
    /// Validate rule files; errors name file, line, column and rule. Exit 64 on error.
    Check {
        /// Rule files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

/// An error with the exit status it maps to.
struct Failure(u8, anyhow::Error);

fn fail(code: u8) -> impl FnOnce(anyhow::Error) -> Failure {
    move |e| Failure(code, e)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Filter(args) => run_filter(args),
        Command::Rules(RulesCommand::List(args)) => list_rules(args),
        Command::Rules(RulesCommand::Check { files }) => check_rules(files),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, e)) => {
            eprintln!("redactd: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn load_rules(args: &RuleArgs) -> Result<RuleSet, Failure> {
    let mut set = if args.no_default_rules {
        RuleSet::new()
    } else {
        RuleSet::shipped()
    };
    for file in &args.rule_files {
        set.add_file(file)
            .map_err(|e| Failure(EXIT_CONFIG, e.into()))?;
    }
    Ok(set)
}

/// Finds the key when an enabled rule pseudonymises: `--key-file`/`$REDACTD_KEY_FILE`,
/// else `$REDACTD_KEY`, else the default key file (created with a notice on first use).
fn load_key(rules: &RuleSet, key_file: Option<&PathBuf>) -> Result<Option<Pseudonymiser>, Failure> {
    let needed = rules
        .rules()
        .iter()
        .any(|r| r.enabled && r.action == Action::Pseudonymise);
    if !needed {
        return Ok(None);
    }
    let key = if let Some(path) = key_file {
        Key::from_file(path).map_err(|e| Failure(EXIT_CONFIG, e.into()))?
    } else if let Ok(hex) = std::env::var(KEY_ENV) {
        Key::from_hex(&hex, KEY_ENV).map_err(|e| Failure(EXIT_CONFIG, e.into()))?
    } else {
        let path = Key::default_path();
        let (key, created) =
            Key::load_or_create(&path).map_err(|e| Failure(EXIT_CONFIG, e.into()))?;
        if created {
            eprintln!(
                "redactd: created a new pseudonymisation key {} (id {}, mode 0600). Keep it and back it up: the same key gives the same pseudonyms; set --key-file or ${KEY_ENV} to choose another.",
                path.display(),
                key.id()
            );
        }
        key
    };
    Ok(Some(Pseudonymiser::new(&key)))
}

fn run_filter(args: FilterArgs) -> Result<(), Failure> {
    let rules = load_rules(&args.rules)?;
    let pseudonymiser = load_key(&rules, args.key_file.as_ref())?;
    let redactor =
        Arc::new(Redactor::new(&rules, pseudonymiser).map_err(|e| Failure(EXIT_CONFIG, e.into()))?);
    let files = if args.files.is_empty() {
        vec!["-".to_string()]
    } else {
        args.files
    };
    let mut inputs = Vec::with_capacity(files.len());
    for file in &files {
        let input = filter::open_input(file)
            .with_context(|| format!("cannot open {file}"))
            .map_err(fail(EXIT_NO_INPUT))?;
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
    // Output is flushed whenever the input goes idle (see `Batch::idle`) and at the end, so
    // a trickling pipe or a terminal sees each line as it comes.
    let output = io::BufWriter::with_capacity(256 * 1024, io::stdout());
    let result = filter::run(&redactor, inputs, output, &options);
    let stats = match result {
        Ok(stats) => Some(stats),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => None,
        Err(e) => {
            return Err(Failure(
                EXIT_IO,
                anyhow::Error::new(e).context("filter failed"),
            ))
        }
    };
    if let (true, Some(stats)) = (args.stats, stats) {
        print_stats(&redactor, &stats);
    }
    Ok(())
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

fn list_rules(args: RuleArgs) -> Result<(), Failure> {
    let set = load_rules(&args)?;
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<20} {:<10} {:<28} {:<13} ORIGIN",
        "ID", "CATEGORY", "MATCHER", "ACTION"
    );
    for r in set.rules() {
        let matcher = match &r.matcher {
            Matcher::Builtin(b) => format!("detector:{}", b.name),
            Matcher::Regex(_) => "regex".to_string(),
            Matcher::Words(w) => format!("words:{}", w.len()),
            Matcher::Field(f) => format!("field:{f}"),
        };
        let action = if r.enabled {
            r.action.as_str()
        } else {
            "(disabled)"
        };
        let _ = writeln!(
            out,
            "{:<20} {:<10} {:<28} {:<13} {}",
            r.id,
            r.category.as_str(),
            matcher,
            action,
            r.origin
        );
    }
    Ok(())
}

fn check_rules(files: Vec<PathBuf>) -> Result<(), Failure> {
    let mut set = RuleSet::shipped();
    let mut errors = 0;
    for file in &files {
        match set.add_file(file) {
            Ok(()) => println!("{}: ok", file.display()),
            Err(e) => {
                eprintln!("{e}");
                errors += 1;
            }
        }
    }
    if errors > 0 {
        return Err(Failure(
            EXIT_CONFIG,
            anyhow::anyhow!("{errors} rule file(s) with errors"),
        ));
    }
    Redactor::new(&set, Some(Pseudonymiser::new(&Key::from_bytes([0; 32]))))
        .map_err(|e| Failure(EXIT_CONFIG, e.into()))?;
    Ok(())
}
