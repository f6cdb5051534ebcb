//! redactd's own logs: a `tracing` subscriber writing to stderr, as text or JSON lines.
//!
//! **The rule: never a value from traffic in a log field or message.** redactd exists to keep
//! personal data out of logs, so its own logs hold only what the operator configured or
//! what redactd made itself: file paths from the configuration, rule ids, key ids, sink
//! names, counts, durations, status classes and error kinds. Never a log line, a request
//! path or query, a header, a client address, a matched value or a pseudonym's input — not
//! at debug or trace level either, and not inside an error's text (an error that could hold
//! input is logged by its kind). Nothing is logged per record or per request on the hot
//! path; count with [`crate::metrics`] instead.
//!
//! Style (STYLE.md habit 15): key/value fields plus a capitalised sentence ending in a
//! period, `%error` for errors:
//!
//! ```
//! tracing::warn!(key = "1462", dir = "/var/lib/redactd/keys", "Key is past its rotation date.");
//! ```
//!
//! * Text (the default, for terminals and journald, which adds its own timestamps):
//!   `redactd: warning: Key is past its rotation date. key=1462 dir=/var/lib/redactd/keys`
//! * JSON (`--log-format json`, for log collectors): one object per line with `timestamp`,
//!   `level`, `target` and `fields`.
//!
//! The filter comes from `$REDACTD_LOG` in `RUST_LOG` syntax (`warn`, `redactd=debug`, …),
//! default `info`.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter (`RUST_LOG` syntax).
pub const LOG_ENV: &str = "REDACTD_LOG";

/// The filter used when [`LOG_ENV`] is unset or empty.
pub const DEFAULT_FILTER: &str = "info";

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `redactd: warning: Message. key=value`, one line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the log setup failed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `$REDACTD_LOG` is not a valid filter.
    #[error("${LOG_ENV} is not a valid log filter: {0}")]
    Filter(String),
    /// A global subscriber was installed already.
    #[error("the log subscriber is already installed")]
    AlreadyInstalled,
}

/// The filter from `value` (the content of [`LOG_ENV`]), or [`DEFAULT_FILTER`] when empty.
pub fn filter(value: Option<&str>) -> Result<EnvFilter, TelemetryError> {
    let directives = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_FILTER);
    EnvFilter::try_new(directives).map_err(|e| TelemetryError::Filter(e.to_string()))
}

/// Installs the global subscriber: `format` to stderr, filtered by `$REDACTD_LOG`.
pub fn init(format: LogFormat) -> Result<(), TelemetryError> {
    let filter = filter(std::env::var(LOG_ENV).ok().as_deref())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.event_format(TextFormat).try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    result.map_err(|_| TelemetryError::AlreadyInstalled)
}

/// The text format: `redactd: ` + a level word for anything but INFO + the message and
/// fields, as the command line has always written its notices.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFormat;

impl<S, N> FormatEvent<S, N> for TextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::INFO => "",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
        };
        write!(writer, "redactd: {level}")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn captured(json: bool, emit: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter(Some("debug")).unwrap())
            .with_ansi(false)
            .with_writer(move || out.clone());
        if json {
            tracing::subscriber::with_default(builder.json().finish(), emit);
        } else {
            tracing::subscriber::with_default(builder.event_format(TextFormat).finish(), emit);
        }
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn text_lines_read_like_the_command_line_notices() {
        let out = captured(false, || {
            tracing::warn!(key = "1462", "Key is past its rotation date.");
            tracing::info!("Listening.");
        });
        assert_eq!(
            out,
            "redactd: warning: Key is past its rotation date. key=\"1462\"\nredactd: Listening.\n"
        );
    }

    #[test]
    fn json_lines_are_objects_with_level_and_fields() {
        let out = captured(true, || {
            tracing::error!(sink = "http", "Sink is failing.");
        });
        let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["fields"]["message"], "Sink is failing.");
        assert_eq!(line["fields"]["sink"], "http");
    }

    #[test]
    fn empty_filter_means_info_and_a_bad_one_is_an_error() {
        assert_eq!(filter(Some(" ")).unwrap().to_string(), "info");
        assert_eq!(filter(None).unwrap().to_string(), "info");
        assert!(matches!(
            filter(Some("redactd=loud")),
            Err(TelemetryError::Filter(_))
        ));
    }
}
