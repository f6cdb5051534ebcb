//! The proxy's pool of upstream connections, against a raw upstream that counts the
//! connections it accepts and closes: connections are reused, one the upstream closed is
//! replaced without failing a request, and idle ones are closed after the idle timeout.

mod proxy_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proxy_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the counting upstream has seen.
#[derive(Default)]
struct Seen {
    accepted: AtomicUsize,
    closed: AtomicUsize,
    requests: AtomicUsize,
}

/// How the counting upstream behaves.
#[derive(Clone, Copy, PartialEq)]
enum Upstream {
    /// Keeps every connection open.
    KeepAlive,
    /// Closes every connection after one response without saying so (as an upstream whose
    /// keep-alive timeout just ran out does).
    OneEach,
    /// Cuts the very first response's body short and closes; answers the rest normally.
    CutFirstBody,
    /// Answers each connection's first head at once, then only reads (a body it does not
    /// wait for), answering nothing more on that connection.
    AnswerThenDrain,
}

/// An HTTP/1.1 upstream answering `200 ok` to each request head, as `how` says.
async fn counting_upstream(how: Upstream) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            counts.accepted.fetch_add(1, Ordering::SeqCst);
            let counts = counts.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let first = counts.requests.fetch_add(1, Ordering::SeqCst) == 0;
                        if how == Upstream::AnswerThenDrain {
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            let _ = s.write_all(answer).await;
                            while matches!(s.read(&mut chunk).await, Ok(n) if n > 0) {}
                            buf.clear();
                            break;
                        }
                        if how == Upstream::CutFirstBody && first {
                            let cut = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten b";
                            let _ = s.write_all(cut).await;
                            buf.clear();
                            break;
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                    let cut = how == Upstream::CutFirstBody
                        && counts.requests.load(Ordering::SeqCst) == 1;
                    if cut
                        || (how == Upstream::OneEach && counts.requests.load(Ordering::SeqCst) > 0)
                    {
                        break;
                    }
                }
                drop(s);
                counts.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (addr, seen)
}

async fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_one_upstream_connection() {
    let (up, seen) = counting_upstream(Upstream::KeepAlive).await;
    let proxy = start_proxy(up).await;
    let c = client();
    for _ in 0..20 {
        let (resp, text) = get(&c, &proxy.url("/")).await;
        assert_eq!((resp.status().as_u16(), text.as_str()), (200, "ok"));
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 20);
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_open_at_most_one_connection_each_and_reuse_them() {
    let (up, seen) = counting_upstream(Upstream::KeepAlive).await;
    let proxy = start_proxy(up).await;
    for _wave in 0..3 {
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let url = proxy.url("/");
            tasks.push(tokio::spawn(async move {
                let (resp, _) = get(&client(), &url).await;
                resp.status().as_u16()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 48);
    let accepted = seen.accepted.load(Ordering::SeqCst);
    assert!(
        (1..=16).contains(&accepted),
        "later waves reuse the first wave's connections: {accepted} accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_upstream_closed_is_replaced_without_failing_a_request() {
    let (up, seen) = counting_upstream(Upstream::OneEach).await;
    let proxy = start_proxy(up).await;
    let c = client();
    for i in 0..10 {
        let (resp, text) = get(&c, &proxy.url("/")).await;
        assert_eq!(
            (resp.status().as_u16(), text.as_str()),
            (200, "ok"),
            "request {i}"
        );
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 10);
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 10);
    let recs = proxy.json_records(10).await;
    assert!(recs.iter().all(|r| r["status"] == 200), "{recs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_upstream_connections_are_closed_after_the_idle_timeout() {
    let (up, seen) = counting_upstream(Upstream::KeepAlive).await;
    let proxy = start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.limits.upstream_idle = Duration::from_millis(300);
    })
    .await;
    let (resp, _) = get(&client(), &proxy.url("/")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(seen.closed.load(Ordering::SeqCst), 0);
    wait_until(
        "the idle connection is closed",
        Duration::from_secs(5),
        || seen.closed.load(Ordering::SeqCst) == 1,
    )
    .await;
    // The next request opens a new connection.
    let (resp, _) = get(&client(), &proxy.url("/")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_short_is_recorded_and_its_connection_not_reused() {
    let (up, seen) = counting_upstream(Upstream::CutFirstBody).await;
    let proxy = start_proxy(up).await;
    let c = client();
    let cut = c
        .request(http::Request::get(proxy.url("/")).body(body("")).unwrap())
        .await;
    // The head arrived; the body ends early (an error, or fewer bytes than announced).
    if let Ok(resp) = cut {
        use http_body_util::BodyExt;
        let got = resp.into_body().collect().await;
        assert!(got.is_err() || got.unwrap().to_bytes().len() < 100);
    }
    let (resp, text) = get(&c, &proxy.url("/")).await;
    assert_eq!((resp.status().as_u16(), text.as_str()), (200, "ok"));
    assert_eq!(
        seen.accepted.load(Ordering::SeqCst),
        2,
        "a new connection for the second"
    );
    let recs = proxy.json_records(2).await;
    assert_eq!(recs[0]["error"], "upstream_body", "{recs:?}");
    assert_eq!(recs[1]["status"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_still_uploading_a_body_is_not_waited_on_by_the_next_request() {
    let (up, seen) = counting_upstream(Upstream::AnswerThenDrain).await;
    let proxy = start_proxy(up).await;
    // A slow upload that the upstream answers before it has ended.
    let url = proxy.url("/upload");
    let upload = tokio::spawn(async move {
        let body = chunked(vec!["a", "b", "c", "d", "e"], Duration::from_millis(400));
        let req = http::Request::post(url).body(body).unwrap();
        send(&client(), req).await.0.status().as_u16()
    });
    wait_until(
        "the upload's head reached the upstream",
        Duration::from_secs(5),
        || seen.requests.load(Ordering::SeqCst) == 1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Its connection is busy sending the body: the next request takes another one at once.
    let started = Instant::now();
    let (resp, text) = get(&client(), &proxy.url("/next")).await;
    assert_eq!((resp.status().as_u16(), text.as_str()), (200, "ok"));
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(upload.await.unwrap(), 200);
}
