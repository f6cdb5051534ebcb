//! Log formats: each parser splits a line into fields (byte ranges with a role) without
//! copying. Bytes between fields are copied through verbatim by the renderer, so a line
//! comes back in the same format with only field contents changed.

use std::ops::Range;

pub mod combined;
pub mod json;
pub mod syslog;

/// What a field of a parsed line holds, which decides how the engine treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Free text: scanned by every detector.
    Text,
    /// The client field of an access log: one address, a hostname, `-`, or an
    /// `X-Forwarded-For` list (`10.0.0.2, 10.0.0.1, 81.2.69.143`).
    Client,
    /// The authenticated user name of an access log (`-` when absent).
    User,
    /// The request target (path and query) of an access log request line.
    Target,
    /// A whole request line that did not split into method, target and protocol.
    Request,
    /// The referrer of an access log.
    Referrer,
    /// The user agent of an access log.
    UserAgent,
    /// An RFC 5424 structured-data parameter value (escape `"`, `\` and `]` on output).
    SdValue,
    /// The raw (still escaped) contents of a JSON string value; `key` is the raw contents
    /// of the member name it belongs to, when it is an object member.
    JsonString {
        /// Range of the member name's raw contents, if any.
        key: Option<(usize, usize)>,
    },
    /// A JSON number token; `key` as for strings.
    JsonNumber {
        /// Range of the member name's raw contents, if any.
        key: Option<(usize, usize)>,
    },
}

/// One field of a parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Byte range of the field's contents in the line.
    pub span: Range<usize>,
    /// What the field holds.
    pub role: Role,
}

/// A line format, as chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decide per line.
    #[default]
    Auto,
    /// The whole line is free text.
    Text,
    /// JSON lines.
    Json,
    /// Apache/nginx common or combined log format.
    Combined,
    /// RFC 3164 or RFC 5424 syslog.
    Syslog,
}
