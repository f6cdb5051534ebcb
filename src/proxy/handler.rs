//! One request: capture what the record needs, check limits, rewrite headers for the
//! upstream (hop-by-hop removed, forwarding headers set, request id), forward, and map the
//! upstream's answer or failure to the client's response. Upgrades (WebSocket) are joined
//! into a byte tunnel after both sides agree on 101.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::metrics::DlpOutcome;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::body::{BodyFault, DlpBody, ReplyBody, RequestBody, ResponseBody};
use super::codec::{self, Coding};
use super::net;
use super::record::{Capture, RecordGuard, Text};
use super::route::CompressedBodies;
use super::{ConnInfo, Shared};

/// What the client gets back.
pub(crate) type ProxyBody = ResponseBody<ReplyBody>;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Headers that describe one hop and are never forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// An incoming request id is kept when it is short and plain; else one is made.
fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
}

/// The user name of `Authorization: Basic …` (the password is never kept).
fn basic_user(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(rest.trim())?;
    let colon = decoded.iter().position(|&c| c == b':')?;
    Some(String::from_utf8_lossy(&decoded[..colon]).into_owned())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(h: &mut HeaderMap) {
    // One pass over the names says which are there (usually none, or `Connection` alone).
    let mut present = [false; 9];
    for name in h.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|hop| hop == name) {
            present[i] = true;
        }
    }
    if present[0] {
        let named: Vec<HeaderName> = h
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            // The usual values: `close` names no header, `keep-alive` goes anyway.
            .filter(|n| !n.eq_ignore_ascii_case("close") && !n.eq_ignore_ascii_case("keep-alive"))
            .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
            .collect();
        for n in named {
            h.remove(n);
        }
    }
    for (hop, _) in HOP_BY_HOP.iter().zip(present).filter(|(_, p)| *p) {
        h.remove(hop);
    }
}

fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// A header value built by `build`, with one allocation: the value's own (the text is
/// built in a buffer the thread reuses).
fn header_value(build: impl FnOnce(&mut Vec<u8>)) -> Option<HeaderValue> {
    thread_local!(static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        build(&mut buf);
        HeaderValue::from_bytes(&buf).ok()
    })
}

/// `X-Forwarded-For`: the trusted chain so far, if any, then the peer.
fn forwarded_for(previous: Option<&HeaderValue>, peer: IpAddr) -> Option<HeaderValue> {
    header_value(|v| {
        if let Some(prev) = previous.filter(|p| p.to_str().is_ok()) {
            v.extend_from_slice(prev.as_bytes());
            v.extend_from_slice(b", ");
        }
        net::push_ip(v, peer);
    })
}

/// `Forwarded`: the trusted chain so far, if any, then this hop's `for`, `proto` and
/// `host` (when it needs no escaping).
fn forwarded(
    previous: Option<&HeaderValue>,
    peer: IpAddr,
    scheme: &str,
    host: &str,
) -> Option<HeaderValue> {
    header_value(|v| {
        if let Some(prev) = previous.filter(|p| p.to_str().is_ok()) {
            v.extend_from_slice(prev.as_bytes());
            v.extend_from_slice(b", ");
        }
        v.extend_from_slice(b"for=");
        if peer.is_ipv6() {
            v.extend_from_slice(b"\"[");
            net::push_ip(v, peer);
            v.extend_from_slice(b"]\"");
        } else {
            net::push_ip(v, peer);
        }
        v.extend_from_slice(b";proto=");
        v.extend_from_slice(scheme.as_bytes());
        if !host.is_empty() && host.bytes().all(|c| c.is_ascii_graphic() && c != b'"') {
            v.extend_from_slice(b";host=\"");
            v.extend_from_slice(host.as_bytes());
            v.push(b'"');
        }
    })
}

/// The record's text for a method: standard ones without a copy.
fn method_text(m: &Method) -> Text {
    match crate::metrics::Method::from_bytes(m.as_str().as_bytes()) {
        crate::metrics::Method::Other => Text::Owned(m.as_str().to_string()),
        standard => Text::Static(standard.as_str()),
    }
}

/// A small text response that carries the request's record.
fn error_response(
    status: StatusCode,
    mut guard: RecordGuard,
    error: &'static str,
) -> Response<ProxyBody> {
    guard.capture().status = status.as_u16();
    guard.capture().error = Some(error);
    let id = guard.capture().request_id.as_bytes().to_vec();
    let text = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let body = ResponseBody::new(ReplyBody::Text(Full::new(Bytes::from(text))), guard);
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_bytes(&id) {
        resp.headers_mut().insert(X_REQUEST_ID, v);
    }
    resp
}

/// What DLP does with a body of this content type.
#[derive(Debug, PartialEq, Eq)]
enum DlpScope {
    /// Not text: passed without a look.
    Ignore,
    /// Text, JSON or XML: scanned.
    Scan,
    /// Text that must not be held back (server-sent events: the carry-over window would
    /// delay each event until the next ones arrive): passed unscanned, and counted.
    Unscannable,
}

fn dlp_scope(content_type: Option<&HeaderValue>) -> DlpScope {
    let Some(ct) = content_type.and_then(|v| v.to_str().ok()) else {
        return DlpScope::Ignore;
    };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct == "text/event-stream" {
        return DlpScope::Unscannable;
    }
    let text = ct.starts_with("text/")
        || ct == "application/json"
        || ct.ends_with("+json")
        || ct == "application/xml"
        || ct.ends_with("+xml")
        || ct == "application/x-ndjson"
        || ct == "application/javascript";
    if text {
        DlpScope::Scan
    } else {
        DlpScope::Ignore
    }
}

/// The upstream error that best explains a failed request: a connect timeout is a timeout.
fn is_timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        if err.to_string().contains("timed out") || err.to_string().contains("timeout") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// A body DLP may change is no longer byte-for-byte the upstream's: a strong `ETag` becomes
/// weak (`W/"…"`), as nginx does for bodies it rewrites.
fn weaken_etag(headers: &mut HeaderMap) {
    let Some(tag) = headers.get(header::ETAG) else {
        return;
    };
    if tag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = b"W/".to_vec();
    weak.extend_from_slice(tag.as_bytes());
    match HeaderValue::from_bytes(&weak) {
        Ok(v) => headers.insert(header::ETAG, v),
        Err(_) => headers.remove(header::ETAG),
    };
}

/// What DLP does with one response body.
#[derive(Debug, PartialEq, Eq)]
enum DlpPlan {
    /// Not text: passed without a look.
    Ignore,
    /// Scanned, decoded first when it has a coding.
    Scan(Option<Coding>),
    /// Text DLP cannot or must not scan (a coding it does not decode or was told to pass,
    /// an event stream): passed unchanged, and counted.
    PassUnscanned,
}

fn dlp_plan(
    scope: DlpScope,
    content_encoding: Option<&HeaderValue>,
    compressed: CompressedBodies,
) -> DlpPlan {
    let coding = match content_encoding {
        None => None,
        Some(v) if v.as_bytes().eq_ignore_ascii_case(b"identity") => None,
        Some(v) => match (compressed, Coding::of(v)) {
            (CompressedBodies::Decode, Some(coding)) => Some(coding),
            _ if scope == DlpScope::Ignore => return DlpPlan::Ignore,
            _ => return DlpPlan::PassUnscanned,
        },
    };
    match scope {
        DlpScope::Ignore => DlpPlan::Ignore,
        DlpScope::Scan => DlpPlan::Scan(coding),
        DlpScope::Unscannable => DlpPlan::PassUnscanned,
    }
}

/// Counts one DLP decision in the proxy's counters and the Prometheus metrics.
fn count_dlp(shared: &Shared, outcome: DlpOutcome) {
    let stats = &shared.stats;
    match outcome {
        DlpOutcome::Scanned => stats.dlp_bodies.fetch_add(1, Ordering::Relaxed),
        DlpOutcome::Decoded => {
            stats.dlp_decoded.fetch_add(1, Ordering::Relaxed);
            stats.dlp_bodies.fetch_add(1, Ordering::Relaxed)
        }
        DlpOutcome::Unscanned => stats.dlp_compressed_passed.fetch_add(1, Ordering::Relaxed),
    };
    if let Some(m) = shared.recorder.metrics() {
        m.dlp_body(outcome);
    }
}

/// Handles one request; never fails (every failure is a response with a record).
pub(crate) async fn handle(
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    mut req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let start = Instant::now();
    shared
        .stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let headers = req.headers();
    let peer_ip = net::canonical(conn.peer.ip());
    let peer_trusted = net::trusted(&shared.trusted, peer_ip);
    let client_ip = net::client_address(peer_ip, &shared.trusted, headers);
    let host = match req.uri().authority() {
        Some(a) if req.version() == Version::HTTP_2 => HeaderValue::from_str(a.as_str()).ok(),
        _ => headers.get(header::HOST).cloned(),
    };
    let (request_id, request_id_generated) = match headers.get(X_REQUEST_ID) {
        Some(v) if valid_request_id(v) => (v.clone(), false),
        _ => (shared.request_id(), true),
    };
    let logged_headers = shared
        .log_headers
        .iter()
        .filter_map(|name| {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            (!values.is_empty()).then(|| (name.clone(), values.join(", ")))
        })
        .collect();
    let header_text = |name| headers.get(name).cloned().map(Text::Header);
    let capture = Capture {
        time: Some(SystemTime::now()),
        client_ip: Some(client_ip),
        user: basic_user(headers),
        method: method_text(req.method()),
        scheme: conn.scheme,
        host: host.clone().map_or(Text::Empty, Text::Header),
        url: req
            .uri()
            .path_and_query()
            .cloned()
            .map_or(Text::Static("/"), Text::Target),
        protocol: protocol(req.version()),
        status: 0,
        user_agent: header_text(header::USER_AGENT),
        referrer: header_text(header::REFERER),
        request_id: Text::Header(request_id.clone()),
        request_id_generated,
        route: None,
        tls_version: conn.tls_version,
        headers: logged_headers,
        upstream: None,
        error: None,
    };
    // The host as text, for routing and `Forwarded` (header values may hold other bytes).
    let host_bytes = host.as_ref().map_or(&b""[..], HeaderValue::as_bytes);
    let host_text = String::from_utf8_lossy(host_bytes);
    let mut guard = RecordGuard::new(shared.recorder.clone(), start, capture);
    guard.track(conn.io.clone());

    let Some(route) = shared.routes.select(&host_text, req.uri().path()) else {
        return Ok(error_response(StatusCode::NOT_FOUND, guard, "no_route"));
    };
    guard.capture().route = Some(route.name.clone());

    // HTTP/2 heads are limited here (HTTP/1 ones before hyper parses them), counted as
    // HPACK does: name + value + 32 per field.
    if req.version() == Version::HTTP_2 {
        let size: usize = req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 32)
            .sum::<usize>()
            + req.uri().path_and_query().map_or(0, |p| p.as_str().len());
        if size > shared.limits.max_header_bytes {
            return Ok(error_response(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                guard,
                "header_too_large",
            ));
        }
    }

    // Body limit, when the length is declared.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > shared.limits.max_body_bytes) {
        return Ok(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            guard,
            "body_limit",
        ));
    }

    let upgrade = is_upgrade(&req);
    let upgrade_value = req.headers().get(header::UPGRADE).cloned();
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));

    let (mut parts, body) = req.into_parts();
    // Upstreams get the origin form (`/path?query`); the connection says where.
    parts.uri = parts
        .uri
        .path_and_query()
        .cloned()
        .map_or_else(|| http::Uri::from_static("/"), http::Uri::from);
    let was_h2 = parts.version == Version::HTTP_2;
    parts.version = Version::HTTP_11;
    let h = &mut parts.headers;
    strip_hop_by_hop(h);
    if upgrade {
        if let Some(v) = upgrade_value {
            h.insert(header::UPGRADE, v);
        }
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if was_h2 || !h.contains_key(header::HOST) {
        if let Some(v) = &host {
            h.insert(header::HOST, v.clone());
        }
    }
    // Forwarding headers: extend the chain from a trusted peer, start it afresh otherwise.
    let xff = forwarded_for(
        peer_trusted.then(|| h.get(&X_FORWARDED_FOR)).flatten(),
        peer_ip,
    );
    let proto = match (peer_trusted, h.get(&X_FORWARDED_PROTO)) {
        (true, Some(v)) => v.clone(),
        _ => HeaderValue::from_static(conn.scheme),
    };
    let forwarded = forwarded(
        peer_trusted.then(|| h.get(&FORWARDED)).flatten(),
        peer_ip,
        conn.scheme,
        &host_text,
    );
    if !peer_trusted {
        h.remove(&X_FORWARDED_FOR);
        h.remove(&FORWARDED);
    }
    if let Some(v) = xff {
        h.insert(X_FORWARDED_FOR, v);
    }
    h.insert(X_FORWARDED_PROTO, proto);
    if let Some(v) = forwarded {
        h.insert(FORWARDED, v);
    }
    h.insert(X_REQUEST_ID, request_id.clone());
    // DLP that decodes asks the upstream only for codings it can decode.
    if route.dlp.is_some() && route.compressed == CompressedBodies::Decode {
        if let Some(v) = h.get(header::ACCEPT_ENCODING) {
            let v = codec::decodable_accept_encoding(v);
            h.insert(header::ACCEPT_ENCODING, v);
        }
    }

    let fault = BodyFault::default();
    let body = RequestBody::new(
        body,
        guard.request_bytes.clone(),
        shared.limits.max_body_bytes,
        shared.limits.body_read_timeout,
        fault.clone(),
    );
    let upstream_req = Request::from_parts(parts, body);

    let sent = Instant::now();
    let result = tokio::time::timeout(
        shared.limits.response_timeout,
        route.upstream.send(upstream_req),
    )
    .await;
    let mut resp = match result {
        Err(_) => {
            return Ok(error_response(
                StatusCode::GATEWAY_TIMEOUT,
                guard,
                "upstream_timeout",
            ))
        }
        Ok(Err(e)) => {
            if fault.too_large() {
                return Ok(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    guard,
                    "body_limit",
                ));
            }
            if fault.timed_out() {
                return Ok(error_response(
                    StatusCode::REQUEST_TIMEOUT,
                    guard,
                    "body_timeout",
                ));
            }
            if e.is_connect() {
                if is_timed_out(&e) {
                    return Ok(error_response(
                        StatusCode::GATEWAY_TIMEOUT,
                        guard,
                        "upstream_connect_timeout",
                    ));
                }
                return Ok(error_response(
                    StatusCode::BAD_GATEWAY,
                    guard,
                    "upstream_connect",
                ));
            }
            return Ok(error_response(
                StatusCode::BAD_GATEWAY,
                guard,
                "upstream_error",
            ));
        }
        Ok(Ok(resp)) => resp,
    };
    guard.capture().upstream = Some(sent.elapsed());
    guard.capture().status = resp.status().as_u16();

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut resp);
            resp.body_mut().forget_connection();
            conn.io.upgraded.store(true, Ordering::Relaxed);
            tokio::spawn(async move {
                let (c, u) = tokio::join!(client_upgrade, upstream_upgrade);
                if let (Ok(c), Ok(u)) = (c, u) {
                    let mut c = TokioIo::new(c);
                    let mut u = TokioIo::new(u);
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
                }
            });
            // The record covers the handshake; the tunnel's bytes are not the request's.
            guard.finish();
            let (mut parts, _) = resp.into_parts();
            let upgrade_value = parts.headers.get(header::UPGRADE).cloned();
            strip_hop_by_hop(&mut parts.headers);
            if let Some(v) = upgrade_value {
                parts.headers.insert(header::UPGRADE, v);
            }
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            let body = ResponseBody::new(ReplyBody::Text(Full::new(Bytes::new())), guard);
            return Ok(Response::from_parts(parts, body));
        }
    }

    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if !parts.headers.contains_key(&X_REQUEST_ID) {
        parts.headers.insert(X_REQUEST_ID, request_id);
    }
    let mut dlp_coding = None;
    if let Some(dlp) = &route.dlp {
        let has_body = guard.capture().method.as_bytes() != b"HEAD"
            && parts.status != StatusCode::NO_CONTENT
            && parts.status != StatusCode::NOT_MODIFIED;
        let plan = dlp_plan(
            dlp_scope(parts.headers.get(header::CONTENT_TYPE)),
            parts.headers.get(header::CONTENT_ENCODING),
            route.compressed,
        );
        match plan {
            _ if !has_body => {}
            DlpPlan::Ignore => {}
            DlpPlan::Scan(coding) => {
                count_dlp(
                    &shared,
                    coding.map_or(DlpOutcome::Scanned, |_| DlpOutcome::Decoded),
                );
                parts.headers.remove(header::CONTENT_LENGTH);
                weaken_etag(&mut parts.headers);
                dlp_coding = Some((dlp.clone(), coding));
            }
            DlpPlan::PassUnscanned => count_dlp(&shared, DlpOutcome::Unscanned),
        }
    }
    let body = match dlp_coding {
        Some((redactor, coding)) => ReplyBody::Dlp(Box::new(DlpBody::new(body, redactor, coding))),
        None => ReplyBody::Upstream(body),
    };
    Ok(Response::from_parts(parts, ResponseBody::new(body, guard)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dlp_scans_text_json_and_xml_but_not_binary_or_event_streams() {
        let scope = |ct: &str| dlp_scope(Some(&HeaderValue::from_str(ct).unwrap()));
        assert_eq!(scope("text/html; charset=utf-8"), DlpScope::Scan);
        assert_eq!(scope("application/json"), DlpScope::Scan);
        assert_eq!(scope("application/problem+json"), DlpScope::Scan);
        assert_eq!(scope("application/xml"), DlpScope::Scan);
        assert_eq!(scope("image/png"), DlpScope::Ignore);
        assert_eq!(scope("application/octet-stream"), DlpScope::Ignore);
        assert_eq!(scope("text/event-stream"), DlpScope::Unscannable);
        assert_eq!(dlp_scope(None), DlpScope::Ignore);
    }

    #[test]
    fn dlp_decodes_known_codings_passes_the_rest_and_ignores_binary() {
        let hv = |s: &'static str| HeaderValue::from_static(s);
        let (decode, pass) = (CompressedBodies::Decode, CompressedBodies::Pass);
        let plan = |scope, ce: Option<&HeaderValue>, c| dlp_plan(scope, ce, c);
        assert_eq!(plan(DlpScope::Scan, None, decode), DlpPlan::Scan(None));
        assert_eq!(
            plan(DlpScope::Scan, Some(&hv("identity")), pass),
            DlpPlan::Scan(None)
        );
        assert_eq!(
            plan(DlpScope::Scan, Some(&hv("br")), decode),
            DlpPlan::Scan(Some(Coding::Brotli))
        );
        assert_eq!(
            plan(DlpScope::Scan, Some(&hv("gzip")), pass),
            DlpPlan::PassUnscanned
        );
        assert_eq!(
            plan(DlpScope::Scan, Some(&hv("zstd")), decode),
            DlpPlan::PassUnscanned
        );
        assert_eq!(
            plan(DlpScope::Unscannable, None, decode),
            DlpPlan::PassUnscanned
        );
        assert_eq!(
            plan(DlpScope::Ignore, Some(&hv("zstd")), decode),
            DlpPlan::Ignore
        );
        assert_eq!(
            plan(DlpScope::Ignore, Some(&hv("gzip")), decode),
            DlpPlan::Ignore
        );
    }

    #[test]
    fn a_strong_etag_becomes_weak_and_a_weak_one_stays() {
        let mut h = HeaderMap::new();
        h.insert(header::ETAG, HeaderValue::from_static("\"abc\""));
        weaken_etag(&mut h);
        assert_eq!(h[header::ETAG], "W/\"abc\"");
        weaken_etag(&mut h);
        assert_eq!(h[header::ETAG], "W/\"abc\"");
        let mut none = HeaderMap::new();
        weaken_etag(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn forwarding_headers_extend_a_trusted_chain_and_quote_ipv6_nodes() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let prev = HeaderValue::from_static("198.51.100.1");
        assert_eq!(forwarded_for(None, v4).unwrap(), "192.0.2.7");
        assert_eq!(
            forwarded_for(Some(&prev), v6).unwrap(),
            "198.51.100.1, 2001:db8::1"
        );
        assert_eq!(
            forwarded(None, v4, "https", "shop.example").unwrap(),
            "for=192.0.2.7;proto=https;host=\"shop.example\""
        );
        let prev = HeaderValue::from_static("for=198.51.100.1");
        assert_eq!(
            forwarded(Some(&prev), v6, "http", "a\"b").unwrap(),
            "for=198.51.100.1, for=\"[2001:db8::1]\";proto=http",
            "a host that would need escaping is left out"
        );
    }

    #[test]
    fn hop_by_hop_headers_go_with_those_connection_names_and_the_rest_stay() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        h.insert("x-private-hop", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 2, "nothing hop-by-hop: nothing removed");
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, X-Private-Hop"),
        );
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["accept"]);
    }

    #[test]
    fn standard_methods_are_static_text_and_others_are_kept_as_sent() {
        assert!(matches!(method_text(&Method::GET), Text::Static("GET")));
        assert!(matches!(method_text(&Method::PATCH), Text::Static("PATCH")));
        let propfind = Method::from_bytes(b"PROPFIND").unwrap();
        assert!(matches!(method_text(&propfind), Text::Owned(m) if m == "PROPFIND"));
    }

    #[test]
    fn basic_user_keeps_the_name_and_never_the_password() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic amFuZTpodW50ZXIycGFzcw=="),
        );
        assert_eq!(basic_user(&h).as_deref(), Some("jane"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(basic_user(&h), None);
    }
}
