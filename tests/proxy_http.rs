//! The proxy against a real upstream: requests and bodies both ways, forwarding headers,
//! failures and limits, each with exactly one access record.

mod proxy_support;

use std::time::Duration;

use http::Request;
use proxy_support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_is_proxied_and_yields_one_record() {
    let up = start_upstream().await;
    let proxy = start_proxy(up).await;
    let c = client();
    let (resp, text) = get(&c, &proxy.url("/hello?x=1")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(text, "hello from upstream /hello\n");
    assert!(resp.headers().contains_key("x-request-id"));
    let recs = proxy.json_records(1).await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["method"], "GET");
    assert_eq!(r["status"], 200);
    assert_eq!(r["url"], "/hello?x=1");
    assert_eq!(r["protocol"], "HTTP/1.1");
    assert_eq!(r["scheme"], "http");
    assert_eq!(r["response_bytes"], text.len() as u64);
    assert!(r["upstream_ms"].is_number());
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(
        r["request_id"].as_str().unwrap(),
        resp.headers()["x-request-id"].to_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_body_reaches_upstream_and_comes_back_counted() {
    let up = start_upstream().await;
    let proxy = start_proxy(up).await;
    let c = client();
    let payload = "x".repeat(100_000);
    let req = Request::post(proxy.url("/echo"))
        .header("content-type", "application/octet-stream")
        .body(body(payload.clone()))
        .unwrap();
    let (resp, text) = send(&c, req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(text.len(), payload.len());
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["request_bytes"], 100_000);
    assert_eq!(recs[0]["response_bytes"], 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_request_and_response_bodies_stream_through() {
    let up = start_upstream().await;
    let proxy = start_proxy(up).await;
    let c = client();
    let req = Request::post(proxy.url("/echo"))
        .body(chunked(
            vec!["alpha ", "beta ", "gamma"],
            Duration::from_millis(20),
        ))
        .unwrap();
    let (resp, text) = send(&c, req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(text, "alpha beta gamma");
    let (resp, text) = get(&c, &proxy.url("/chunked")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(text, "one two three four\n");
    assert!(resp.headers().get("content-length").is_none());
    let recs = proxy.json_records(2).await;
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["request_bytes"], 16);
    assert_eq!(recs[1]["response_bytes"], 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_gives_502_with_a_record() {
    let dead = dead_address().await;
    let proxy = start_proxy(dead).await;
    let c = client();
    let (resp, _) = get(&c, &proxy.url("/anything")).await;
    assert_eq!(resp.status(), 502);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], 502);
    assert_eq!(recs[0]["error"], "upstream_connect");
    assert!(recs[0]["upstream_ms"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_gives_504_after_the_response_timeout() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.response_timeout = Duration::from_millis(200);
    })
    .await;
    let (resp, _) = get(&client(), &proxy.url("/slow")).await;
    assert_eq!(resp.status(), 504);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["error"], "upstream_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_client_head_gets_408_and_a_record() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let answer = raw_exchange(proxy.addr, b"GET /slowloris HTTP/1.1\r\nHost: x\r\nX-A: ").await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let recs = proxy.json_records(1).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], 408);
    assert_eq!(recs[0]["url"], "/slowloris");
    assert_eq!(recs[0]["error"], "header_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_request_body_gets_408_and_a_record() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    let answer = raw_exchange(
        proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let recs = proxy.json_records(1).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], 408);
    assert_eq!(recs[0]["error"], "body_timeout");
    assert_eq!(recs[0]["request_bytes"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_upload_is_not_cut() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.body_read_timeout = Duration::from_millis(300);
    })
    .await;
    let pieces = vec!["one ", "two ", "three ", "four ", "five ", "six\n"];
    let req = http::Request::post(proxy.url("/echo"))
        .body(chunked(pieces, Duration::from_millis(150)))
        .unwrap();
    let (resp, text) = send(&client(), req).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(text, "one two three four five six\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431_and_a_record() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.max_header_bytes = 4096;
    })
    .await;
    let big = "a".repeat(8000);
    let raw = format!("GET /big HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let answer = raw_exchange(proxy.addr, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    let recs = proxy.json_records(1).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], 431);
    assert!(!recs[0].to_string().contains(&big[..100]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_body_over_the_limit_gets_413() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.max_body_bytes = 1000;
    })
    .await;
    let req = Request::post(proxy.url("/echo"))
        .body(body("y".repeat(5000)))
        .unwrap();
    let (resp, _) = send(&client(), req).await;
    assert_eq!(resp.status(), 413);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["error"], "body_limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_body_over_the_limit_gets_413() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.max_body_bytes = 1000;
    })
    .await;
    let piece: &'static str = Box::leak("z".repeat(400).into_boxed_str());
    let req = Request::post(proxy.url("/echo"))
        .body(chunked(vec![piece; 5], Duration::from_millis(5)))
        .unwrap();
    let (resp, _) = send(&client(), req).await;
    assert_eq!(resp.status(), 413);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["error"], "body_limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_get_503_and_a_record() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.max_connections = 1;
    })
    .await;
    // Hold the one allowed connection open with a complete request on keep-alive.
    let mut first = TcpStream::connect(proxy.addr).await.unwrap();
    first
        .write_all(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = raw_exchange(proxy.addr, b"GET /two HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    let recs = proxy.records(2).await;
    assert!(
        recs.iter()
            .any(|r| r.contains("\"status\":503") && r.contains("max_connections")),
        "{recs:?}"
    );
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_are_removed_and_forwarding_headers_set() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), passthrough_redactor(), |_| {}).await;
    let raw = "GET /headers HTTP/1.1\r\nHost: shop.example\r\nConnection: close, X-Secret-Hop\r\n\
               X-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n\
               X-Forwarded-For: 6.6.6.6\r\nX-Request-Id: abc-123\r\n\r\n";
    let answer = raw_exchange(proxy.addr, raw.as_bytes())
        .await
        .to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    assert!(!body.contains("x-secret-hop"), "{body}");
    assert!(!body.contains("keep-alive"), "{body}");
    assert!(!body.contains("proxy-authorization"), "{body}");
    // The peer is not trusted: its X-Forwarded-For is replaced, not extended.
    assert!(body.contains("x-forwarded-for: 127.0.0.1\n"), "{body}");
    assert!(!body.contains("6.6.6.6"), "{body}");
    assert!(body.contains("x-forwarded-proto: http\n"), "{body}");
    assert!(
        body.contains("forwarded: for=127.0.0.1;proto=http;host=\"shop.example\""),
        "{body}"
    );
    assert!(body.contains("x-request-id: abc-123\n"), "{body}");
    assert!(body.contains("host: shop.example\n"), "{body}");
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["client_ip"], "127.0.0.1");
    assert_eq!(recs[0]["request_id"], "abc-123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_are_believed_only_from_trusted_proxies() {
    let up = start_upstream().await;
    let trusting = start_proxy_with(&format!("http://{up}"), passthrough_redactor(), |c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let c = client();
    let req = Request::get(trusting.url("/headers"))
        .header("x-forwarded-for", "203.0.113.7, 127.0.0.5")
        .body(body(""))
        .unwrap();
    let (_, text) = send(&c, req).await;
    assert!(
        text.contains("x-forwarded-for: 203.0.113.7, 127.0.0.5, 127.0.0.1\n"),
        "{text}"
    );
    let recs = trusting.json_records(1).await;
    assert_eq!(recs[0]["client_ip"], "203.0.113.7");

    let wary = start_proxy_with(&format!("http://{up}"), passthrough_redactor(), |_| {}).await;
    let req = Request::get(wary.url("/headers"))
        .header("x-forwarded-for", "203.0.113.7")
        .body(body(""))
        .unwrap();
    let (_, text) = send(&c, req).await;
    assert!(text.contains("x-forwarded-for: 127.0.0.1\n"), "{text}");
    let recs = wary.json_records(1).await;
    assert_eq!(recs[0]["client_ip"], "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_passes_through_and_echoes_a_frame() {
    let up = start_upstream().await;
    // Short HTTP timers: the tunnel must outlive them.
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.idle_timeout = Duration::from_millis(150);
        c.limits.header_read_timeout = Duration::from_millis(150);
    })
    .await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    use tokio::io::AsyncReadExt;
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "closed early: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // A masked text frame "hi"; the test upstream echoes the bytes.
    let frame = [0x81u8, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
    s.write_all(&frame).await.unwrap();
    let mut back = [0u8; 8];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, frame);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["status"], 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_the_request_in_flight_and_refuses_new_connections() {
    let up = start_upstream().await;
    let mut proxy = start_proxy(up).await;
    let addr = proxy.addr;
    let c = client();
    let url = proxy.url("/slow");
    let in_flight = tokio::spawn(async move { get(&c, &url).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    proxy.stop().await;
    let (resp, text) = in_flight.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(text, "slow done\n");
    let recs = proxy.records(1).await;
    assert_eq!(recs.len(), 1);
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_record_queue_drops_and_counts_without_slowing_requests() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.queue_capacity = 1;
        // A sink that takes 300 ms per record.
        c.sink = redactd::proxy::RecordSink::Hook(std::sync::Arc::new(|_: &[u8]| {
            std::thread::sleep(Duration::from_millis(300))
        }));
    })
    .await;
    let c = client();
    let started = std::time::Instant::now();
    for _ in 0..6 {
        let (resp, _) = get(&c, &proxy.url("/")).await;
        assert_eq!(resp.status(), 200);
    }
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let stats = proxy.server.as_ref().unwrap().stats();
    assert!(stats.records_dropped() >= 3, "{}", stats.records_dropped());
    assert_eq!(stats.records() + stats.records_dropped(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_before_the_response_still_yields_one_record() {
    let up = start_upstream().await;
    let proxy = start_proxy(up).await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(s);
    let recs = proxy.json_records(1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(proxy.records(1).await.len(), 1, "exactly one record");
    assert_eq!(recs[0]["status"], 499, "{}", recs[0]);
    assert_eq!(recs[0]["error"], "client_closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_head_later_on_a_keep_alive_connection_gets_431_and_a_record() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.max_header_bytes = 4096;
    })
    .await;
    let big = "b".repeat(20_000);
    let raw = format!(
        "GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
    );
    let answer = raw_exchange(proxy.addr, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("HTTP/1.1 431 "), "{answer}");
    let recs = proxy.json_records(2).await;
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0]["status"], 200);
    assert_eq!(recs[1]["status"], 431);
    assert_eq!(recs[1]["error"], "header_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_head_later_on_a_keep_alive_connection_gets_408_and_a_record() {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Read the first response whole, then start a second head and stall.
    let mut first = Vec::new();
    while !first.ends_with(b"hello from upstream /first\n") {
        let mut buf = [0u8; 512];
        use tokio::io::AsyncReadExt;
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        first.extend_from_slice(&buf[..n]);
    }
    s.write_all(b"GET /second HTTP/1.1\r\nHost: x\r\nX-A: ")
        .await
        .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    let recs = proxy.json_records(2).await;
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[1]["status"], 408);
    assert_eq!(recs[1]["error"], "header_timeout");
}

/// One request on a keep-alive connection to a proxy with these timeouts: the answer up to
/// the proxy's close, and how long that took.
async fn idle_close(idle: Duration, head: Duration) -> (Proxy, String, Duration) {
    let up = start_upstream().await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.idle_timeout = idle;
        c.limits.header_read_timeout = head;
    })
    .await;
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    s.write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = read_to_close(&mut s, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(!answer.contains("408"), "{answer}");
    (proxy, answer, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_timeout_longer_than_the_head_timeout_is_kept_in_full() {
    // One timer serves both: it wakes after the shorter and must not close early.
    let (_proxy, _, took) =
        idle_close(Duration::from_millis(900), Duration::from_millis(200)).await;
    assert!(
        took >= Duration::from_millis(850) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connection_is_closed_quietly_after_the_idle_timeout() {
    let (proxy, _, took) = idle_close(Duration::from_millis(300), Duration::from_secs(10)).await;
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The idle close is not a request: still the one record.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(proxy.records.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connect_timeout_gives_504_with_a_record() {
    // A loopback listener that never accepts, its backlog filled: further connects hang.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    let proxy = start_proxy_with(&format!("http://{addr}"), redactor(None), |c| {
        c.limits.connect_timeout = Duration::from_millis(300);
    })
    .await;
    let (resp, _) = get(&client(), &proxy.url("/")).await;
    assert_eq!(resp.status(), 504);
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["error"], "upstream_connect_timeout");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_still_running_at_the_drain_deadline_are_cut_and_recorded_as_shutdown() {
    let up = start_upstream().await;
    let mut proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.drain = Duration::from_millis(100);
    })
    .await;
    let c = client();
    let url = proxy.url("/slow");
    let in_flight =
        tokio::spawn(async move { c.request(Request::get(url).body(body("")).unwrap()).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    proxy.stop().await;
    assert!(
        in_flight.await.unwrap().is_err(),
        "the cut request fails for its client"
    );
    let recs = proxy.json_records(1).await;
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["error"], "shutdown");
    assert_eq!(recs[0]["status"], 503);
}
