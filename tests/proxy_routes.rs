//! Several upstreams behind one listener: routes by host and path prefix, the most specific
//! winning, each record naming its route, per-route DLP, and a 404 with a record when no
//! route takes a request.

mod proxy_support;

use http::Request;
use proxy_support::*;
use redactd::proxy::Route;

fn route(name: &str, host: Option<&str>, path: &str, upstream: std::net::SocketAddr) -> Route {
    let mut r = Route::catch_all(format!("http://{upstream}").parse().unwrap());
    r.name = name.into();
    r.host = host.map(str::to_string);
    r.path_prefix = path.into();
    r
}

/// Three upstreams: `api` for /api/, `shop` for host shop.example.com (with DLP), `web`
/// for everything else.
async fn routed_proxy() -> Proxy {
    let api = start_tagged_upstream("api").await;
    let shop = start_tagged_upstream("shop").await;
    let web = start_tagged_upstream("web").await;
    start_proxy_with(&format!("http://{web}"), redactor(None), move |c| {
        let mut shop_route = route("shop", Some("shop.example.com"), "/", shop);
        shop_route.dlp = true;
        c.routes = vec![
            route("web", None, "/", web),
            route("api", None, "/api/", api),
            shop_route,
        ];
        c.dlp = Some(dlp_redactor());
    })
    .await
}

async fn fetch(proxy: &Proxy, host: &str, path: &str) -> (String, String) {
    let req = Request::get(proxy.url(path))
        .header("host", host)
        .body(body(""))
        .unwrap();
    let (resp, text) = send(&client(), req).await;
    let tag = resp
        .headers()
        .get("x-upstream")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (tag, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_go_to_the_upstream_of_the_most_specific_route_and_records_name_it() {
    let proxy = routed_proxy().await;
    let cases = [
        ("www.example.com", "/", "web"),
        ("www.example.com", "/api/users?id=3", "api"),
        ("www.example.com", "/api", "api"),
        ("www.example.com", "/apix", "web"),
        ("www.example.com", "/%61pi/users", "api"),
        ("shop.example.com", "/api/users", "shop"),
        ("SHOP.example.com:8080", "/cart", "shop"),
    ];
    for (host, path, want) in cases {
        let (tag, text) = fetch(&proxy, host, path).await;
        assert_eq!(tag, want, "{host}{path}: {text}");
    }
    let recs = proxy.json_records(cases.len()).await;
    let mut routes: Vec<String> = recs
        .iter()
        .map(|r| r["route"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = cases.iter().map(|c| c.2.to_string()).collect();
    routes.sort();
    want.sort();
    assert_eq!(routes, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlp_applies_only_on_the_routes_that_have_it() {
    let proxy = routed_proxy().await;
    let (tag, shop) = fetch(&proxy, "shop.example.com", "/dlp").await;
    assert_eq!(tag, "shop");
    assert!(!shop.contains("4111 1111 1111 1111"), "{shop}");
    let (tag, web) = fetch(&proxy, "www.example.com", "/dlp").await;
    assert_eq!(tag, "web");
    assert_eq!(web, DLP_PIECES.concat());
    let stats = proxy.server.as_ref().unwrap().stats();
    assert_eq!(stats.dlp_bodies(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_no_route_takes_gets_404_and_a_record() {
    let api = start_tagged_upstream("api").await;
    let proxy = start_proxy_with(&format!("http://{api}"), redactor(None), move |c| {
        c.routes = vec![route("api", Some("api.example.com"), "/v1/", api)];
    })
    .await;
    let (tag, _) = fetch(&proxy, "api.example.com", "/v1/users").await;
    assert_eq!(tag, "api");
    let req = Request::get(proxy.url("/v2/users"))
        .header("host", "api.example.com")
        .body(body(""))
        .unwrap();
    let (resp, _) = send(&client(), req).await;
    assert_eq!(resp.status(), 404);
    let recs = proxy.json_records(2).await;
    let miss = recs.iter().find(|r| r["status"] == 404).expect("a record");
    assert_eq!(miss["error"], "no_route");
    assert!(miss.get("route").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dlp_route_without_dlp_rules_is_refused_at_start() {
    let up = start_upstream().await;
    let mut c = redactd::proxy::ProxyConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        format!("http://{up}").parse().unwrap(),
        redactor(None),
    );
    c.routes[0].dlp = true;
    let e = redactd::proxy::serve(c, std::future::pending::<()>())
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("DLP"), "{e}");
}
