//! Response-body DLP: financial data masked in streamed text bodies, also when a number is
//! split across chunks; other bodies pass unchanged.

mod proxy_support;

use proxy_support::*;

fn whole_redacted() -> String {
    let r = dlp_redactor();
    let mut s = r.scratch();
    r.redact_str(&DLP_PIECES.concat(), &mut s)
}

async fn dlp_proxy() -> Proxy {
    let up = start_upstream().await;
    start_proxy_with(&format!("http://{up}"), redactor(None), |c| {
        c.dlp = Some(dlp_redactor())
    })
    .await
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
async fn binary_and_compressed_bodies_pass_unchanged_and_compressed_ones_are_counted() {
    let proxy = dlp_proxy().await;
    let c = client();
    let (_, bin) = get(&c, &proxy.url("/dlp.bin")).await;
    assert_eq!(bin, DLP_PIECES.concat());
    let (resp, gz) = get(&c, &proxy.url("/dlp.gz")).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(gz, DLP_PIECES.concat());
    let stats = proxy.server.as_ref().unwrap().stats();
    assert_eq!(stats.dlp_compressed_passed(), 1);
    assert_eq!(stats.dlp_bodies(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_untouched_when_dlp_is_off() {
    let up = start_upstream().await;
    let proxy = start_proxy(up).await;
    let (_, text) = get(&client(), &proxy.url("/dlp")).await;
    assert_eq!(text, DLP_PIECES.concat());
}
