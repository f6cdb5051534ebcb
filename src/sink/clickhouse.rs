//! The `clickhouse` sink: each batch is one `INSERT INTO db.table FORMAT JSONEachRow`
//! POSTed to ClickHouse's HTTP interface, with the records as the body.
//!
//! ClickHouse handles many tiny inserts badly, so batches should be large (thousands of
//! records) or a second apart at least: see `batch_records` and `batch_timeout_ms`. The
//! table's DDL is in `deploy/clickhouse/redactd.sql`; each record has the members that
//! [`super::encode`] writes.
//!
//! Errors: a connection error, a timeout, or a 5xx whose exception code is not about the
//! data is retried; an exception about the data itself (cannot parse input, type
//! mismatch, unknown column, syntax error) refuses the batch, which is dropped and
//! counted, so one bad batch cannot hold the sink up forever. A MergeTree table does not
//! deduplicate inserts, so a batch sent again after a lost answer arrives twice: delivery
//! is at least once.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Uri};

use super::http::{ndjson, retryable_status, Poster};
use super::{Sink, SinkError};

/// Settings of a ClickHouse sink.
#[derive(Debug, Clone)]
pub struct ClickHouseOptions {
    /// The HTTP interface, e.g. `http://127.0.0.1:8123/`.
    pub url: Uri,
    /// Database.
    pub database: String,
    /// Table.
    pub table: String,
    /// User (`default` when not set).
    pub user: Option<String>,
    /// Password (read from the environment variable the config names).
    pub password: Option<String>,
    /// Timeout of one insert.
    pub timeout: Duration,
    /// Compress bodies with gzip (needs `enable_http_compression` on the server).
    pub gzip: bool,
}

/// Exception codes about the data of a batch: sending it again cannot help.
const DATA_ERRORS: &[u32] = &[6, 16, 26, 27, 38, 53, 62, 69, 70, 72, 117];

/// Inserts batches into a ClickHouse table.
#[derive(Debug)]
pub struct ClickHouseSink {
    uri: Uri,
    poster: Poster,
    headers: Vec<(header::HeaderName, String)>,
    gzip: bool,
}

fn encode_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn ident(s: &str) -> String {
    format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"))
}

impl ClickHouseSink {
    /// Builds the sink.
    pub fn new(opts: ClickHouseOptions) -> Result<ClickHouseSink, String> {
        let query = format!(
            "INSERT INTO {}.{} FORMAT JSONEachRow",
            ident(&opts.database),
            ident(&opts.table)
        );
        let base = opts.url.to_string();
        let mut target = format!(
            "{}{}query={}",
            base,
            if base.contains('?') { "&" } else { "?" },
            encode_query(&query)
        );
        if let Some(user) = &opts.user {
            target.push_str(&format!("&user={}", encode_query(user)));
        }
        if let Some(pw) = &opts.password {
            target.push_str(&format!("&password={}", encode_query(pw)));
        }
        if opts.gzip {
            target.push_str("&enable_http_compression=1");
        }
        let uri: Uri = target.parse().map_err(|e| format!("url: {e}"))?;
        let mut headers = vec![(header::CONTENT_TYPE, "application/x-ndjson".to_string())];
        if opts.gzip {
            headers.push((header::CONTENT_ENCODING, "gzip".into()));
        }
        Ok(ClickHouseSink {
            uri,
            poster: Poster::new(None, opts.timeout)?,
            headers,
            gzip: opts.gzip,
        })
    }
}

/// The exception code at the start of a ClickHouse error body (`Code: 27, …`).
pub fn exception_code(body: &str) -> Option<u32> {
    let rest = body.trim_start().strip_prefix("Code: ")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

impl Sink for ClickHouseSink {
    async fn send_batch(&mut self, batch: &[Bytes]) -> Result<(), SinkError> {
        let body = ndjson(batch, self.gzip);
        match self.poster.post(&self.uri, &self.headers, body).await? {
            Ok(()) => Ok(()),
            Err(r) => {
                let code = exception_code(&r.body);
                let msg = format!(
                    "ClickHouse: HTTP {}{}",
                    r.status,
                    code.map(|c| format!(", exception code {c}"))
                        .unwrap_or_default()
                );
                let data_error = code.is_some_and(|c| DATA_ERRORS.contains(&c));
                if retryable_status(r.status) && !data_error {
                    Err(SinkError::retryable(msg).with_retry_after(r.retry_after))
                } else {
                    Err(SinkError::fatal(msg))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_are_read_from_the_body() {
        assert_eq!(
            exception_code("Code: 27, e.displayText() = DB::Exception: Cannot parse input"),
            Some(27)
        );
        assert_eq!(exception_code("Internal error"), None);
    }

    #[test]
    fn the_insert_query_is_url_encoded_with_quoted_names() {
        let s = ClickHouseSink::new(ClickHouseOptions {
            url: "http://127.0.0.1:8123/".parse().unwrap(),
            database: "default".into(),
            table: "redactd".into(),
            user: Some("u".into()),
            password: None,
            timeout: Duration::from_secs(1),
            gzip: false,
        })
        .unwrap();
        assert_eq!(
            s.uri.to_string(),
            "http://127.0.0.1:8123/?query=INSERT%20INTO%20%60default%60.%60redactd%60%20FORMAT%20JSONEachRow&user=u"
        );
    }
}
