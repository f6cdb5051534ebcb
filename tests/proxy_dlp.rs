//! Response-body DLP: financial data masked in streamed text bodies, also when a number is
//! split across chunks and when the body is compressed; other bodies pass unchanged.

mod proxy_support;

use http::Request;
use proxy_support::*;
use redactd::proxy::CompressedBodies;

fn whole_redacted() -> String {
    let r = dlp_redactor();
    let mut s = r.scratch();
    r.redact_str(&DLP_PIECES.concat(), &mut s)
}

async fn dlp_proxy_compressed(compressed: CompressedBodies) -> Proxy {
    let up = start_upstream().await;
    start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.enable_dlp(dlp_redactor());
        c.routes[0].compressed = compressed;
    })
    .await
}

async fn dlp_proxy() -> Proxy {
    dlp_proxy_compressed(CompressedBodies::Decode).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_numbers_and_ibans_split_across_chunks_are_masked_in_text_bodies() {
    let proxy = dlp_proxy().await;
    let (resp, text) = get(&client(), &proxy.url("/dlp")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-length").is_none());
    assert!(!text.contains("4111 1111 1111 1111"), "{text}");
    assert!(!text.contains("5555555555554444"), "{text}");
    assert!(!text.contains("GB82 WEST 1234 5698 7654 32"), "{text}");
    assert!(text.contains("version 1.2.3.4 stays"), "{text}");
    assert_eq!(
        text,
        whole_redacted(),
        "streamed output equals whole-body redaction"
    );
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["response_bytes"], text.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_bodies_are_scanned_too() {
    let proxy = dlp_proxy().await;
    let (_, text) = get(&client(), &proxy.url("/dlp.json")).await;
    assert_eq!(text, whole_redacted());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_deflate_and_brotli_bodies_are_decoded_masked_and_encoded_again() {
    let proxy = dlp_proxy().await;
    let c = client();
    for (path, coding) in [
        ("/dlp.gz", "gzip"),
        ("/dlp.deflate", "deflate"),
        ("/dlp.br", "br"),
    ] {
        let req = Request::get(proxy.url(path)).body(body("")).unwrap();
        let (resp, packed) = send_bytes(&c, req).await;
        assert_eq!(resp.headers()["content-encoding"], coding);
        assert!(resp.headers().get("content-length").is_none());
        let text = String::from_utf8(decompress(coding, &packed)).unwrap();
        assert_eq!(text, whole_redacted(), "{coding}");
    }
    let stats = proxy.server.as_ref().unwrap().stats();
    assert_eq!((stats.dlp_bodies(), stats.dlp_decoded()), (3, 3));
    assert_eq!(stats.dlp_compressed_passed(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bodies_pass_unchanged_and_counted_when_configured_to_pass() {
    let proxy = dlp_proxy_compressed(CompressedBodies::Pass).await;
    let req = Request::get(proxy.url("/dlp.gz")).body(body("")).unwrap();
    let (resp, packed) = send_bytes(&client(), req).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(decompress("gzip", &packed), DLP_PIECES.concat().as_bytes());
    let stats = proxy.server.as_ref().unwrap().stats();
    assert_eq!(stats.dlp_compressed_passed(), 1);
    assert_eq!(stats.dlp_bodies(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_bodies_and_codings_dlp_cannot_decode_pass_unchanged_and_the_latter_are_counted() {
    let proxy = dlp_proxy().await;
    let c = client();
    let (_, bin) = get(&c, &proxy.url("/dlp.bin")).await;
    assert_eq!(bin, DLP_PIECES.concat());
    let (resp, zst) = get(&c, &proxy.url("/dlp.zst")).await;
    assert_eq!(resp.headers()["content-encoding"], "zstd");
    assert_eq!(zst, DLP_PIECES.concat());
    let stats = proxy.server.as_ref().unwrap().stats();
    assert_eq!(stats.dlp_compressed_passed(), 1);
    assert_eq!(stats.dlp_bodies(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_compressed_body_is_cut_not_passed_and_recorded() {
    let proxy = dlp_proxy().await;
    // The head may or may not have left before the body failed: either the request or its
    // body fails, and nothing of the undecodable body arrives.
    let req = Request::get(proxy.url("/dlp.badgz"))
        .body(body(""))
        .unwrap();
    if let Ok(resp) = client().request(req).await {
        use http_body_util::BodyExt;
        if let Ok(b) = resp.into_body().collect().await {
            let b = b.to_bytes();
            assert!(
                !b.windows(7).any(|w| w == b"garbage"),
                "undecodable bytes reached the client"
            );
        }
    }
    let recs = proxy.json_records(1).await;
    assert_eq!(recs[0]["error"], "dlp_decode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlp_routes_ask_the_upstream_only_for_codings_they_decode() {
    let proxy = dlp_proxy().await;
    let req = Request::get(proxy.url("/headers"))
        .header("accept-encoding", "zstd, br;q=0.9, gzip")
        .body(body(""))
        .unwrap();
    let (_, seen) = send(&client(), req).await;
    assert!(seen.contains("accept-encoding: br;q=0.9, gzip\n"), "{seen}");

    let passing = dlp_proxy_compressed(CompressedBodies::Pass).await;
    let req = Request::get(passing.url("/headers"))
        .header("accept-encoding", "zstd, gzip")
        .body(body(""))
        .unwrap();
    let (_, seen) = send(&client(), req).await;
    assert!(seen.contains("accept-encoding: zstd, gzip\n"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_untouched_when_dlp_is_off() {
    let up = start_upstream().await;
    let proxy = start_proxy(up).await;
    let (_, text) = get(&client(), &proxy.url("/dlp")).await;
    assert_eq!(text, DLP_PIECES.concat());
}
