//! The command line: one module per subcommand, plus the loading they share.

pub mod check;
pub mod filter;
pub mod keys;
pub mod lookup;
pub mod proxy;
pub mod rules;
pub mod run;
pub mod setup;

use clap::{Parser, Subcommand};
use redactd::telemetry::{self, LogFormat};

/// Exit status for a bad configuration, rule file or key (sysexits EX_USAGE).
pub const EXIT_CONFIG: u8 = 64;
/// Exit status when an input file cannot be opened (EX_NOINPUT).
pub const EXIT_NO_INPUT: u8 = 66;
/// Exit status for a read or write error (EX_IOERR).
pub const EXIT_IO: u8 = 74;

/// An error with the exit status it maps to.
pub struct Failure(pub u8, pub anyhow::Error);

/// redactd keeps personal data out of logs.
#[derive(Parser)]
#[command(
    name = "redactd",
    version,
    about = "Keeps personal data out of logs.",
    long_about = None,
    after_help = "Exit status: 0 success; 64 bad configuration, rule file, key or GeoIP database \
                  (`redactd check` lists every problem); 66 an input cannot be opened; \
                  74 a read or write error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// redactd's own log lines on stderr: `text` or `json` (one object per line). The level
    /// filter comes from $REDACTD_LOG (RUST_LOG syntax, default `info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormatArg::Text, value_name = "FORMAT")]
    pub log_format: LogFormatArg,
}

/// Values of `--log-format`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    /// `redactd: warning: Message. key=value`
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Redact log lines: stdin or FILES in, the same lines out on stdout.
    ///
    /// One line out per line in, same order, same format, with personal data redacted or
    /// pseudonymised. Gzip files are read transparently. Exit status: 0 on success (also
    /// when stdout is closed early), 64 bad configuration, rules or key, 66 an input cannot
    /// be opened, 74 a read or write error.
    Filter(filter::FilterArgs),
    /// Reverse proxy in front of a web service: one minimised access record per request
    /// (JSON lines on stdout), optional response-body DLP.
    ///
    /// Stops accepting on SIGTERM or Ctrl-C and drains in-flight requests up to
    /// --drain-secs. Exit status: 0 after a clean stop, 64 bad configuration, rules, key or
    /// TLS files, 74 the address cannot be bound.
    Proxy(Box<proxy::ProxyArgs>),
    /// Ship logs: read the configuration's [[input]]s (stdin, syslog), minimise each record
    /// with each sink's profile and deliver it to the [[sink]]s (stdout, file, syslog, http,
    /// clickhouse) with queues, disk buffers and retries.
    ///
    /// Runs until SIGTERM or Ctrl-C (or the end of stdin when it is the only input), then
    /// drains the queues for up to --drain-secs. Exit status: 0 after a clean stop, 64 bad
    /// configuration, rules or key, 74 an address cannot be bound or a sink file opened.
    Run(run::RunArgs),
    /// Print the pseudonyms of a value under every live key, as `filter` writes them.
    Lookup(lookup::LookupArgs),
    /// Manage the key store of epoch keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Inspect rule files.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Validate a configuration and everything it names, without running anything.
    ///
    /// Checks the config file, every rule file and the compiled rule set, the keys
    /// (readable, mode 0600 or stricter, a current key in the key store), the GeoIP
    /// databases and every profile. Each problem is reported on stderr with file, line and
    /// column; every problem is listed, not just the first. Nothing is created or written.
    ///
    /// Exit status: 0 valid (warnings, such as a key past its rotation date, are allowed),
    /// 64 the configuration, a rule file, a key or a GeoIP database is invalid.
    Check(check::CheckArgs),
}

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> u8 {
    let format = match cli.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    };
    if let Err(e) = telemetry::init(format) {
        eprintln!("redactd: {e}");
        return EXIT_CONFIG;
    }
    let result = match cli.command {
        Command::Filter(args) => filter::run(args),
        Command::Lookup(args) => lookup::run(args),
        Command::Proxy(args) => proxy::run(*args),
        Command::Run(args) => run::run(args),
        Command::Keys(command) => keys::run(command),
        Command::Rules(command) => rules::run(command),
        Command::Check(args) => check::run(args),
    };
    match result {
        Ok(()) => 0,
        Err(Failure(code, e)) => {
            match format {
                LogFormat::Text => eprintln!("redactd: {e:#}"),
                LogFormat::Json => {
                    tracing::error!(error = %format!("{e:#}"), status = code, "Command failed.")
                }
            }
            code
        }
    }
}
