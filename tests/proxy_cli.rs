//! `redactd proxy` as an operator runs it: records on stdout, SIGTERM drains and exits 0,
//! bad TLS files exit 64.

mod proxy_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use proxy_support::*;

fn redactd(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redactd"));
    cmd.env_remove("REDACTD_KEY_FILE")
        .env("REDACTD_KEY", "42".repeat(32))
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME");
    cmd
}

/// Reads the child's stderr until both listeners are announced: the admin address, the
/// proxy address and the proxy's line.
fn admin_and_proxy_addresses(
    child: &mut std::process::Child,
) -> (std::net::SocketAddr, std::net::SocketAddr, String) {
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (mut admin, mut proxy) = (None, None);
    while admin.is_none() || proxy.is_none() {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "redactd stopped early"
        );
        let addr = line
            .split_whitespace()
            .nth(4)
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok());
        if line.contains("admin listener on") {
            admin = addr;
        } else if line.contains("proxy listening on") {
            proxy = addr.map(|a| (a, line.clone()));
        }
    }
    // Keep draining so that redactd never blocks on a full stderr pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let (proxy, line) = proxy.unwrap();
    (admin.unwrap(), proxy, line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_zero_with_records_on_stdout() {
    let home = tempfile::tempdir().unwrap();
    let up = start_upstream().await;
    let mut child = redactd(home.path())
        .args(["proxy", "--listen", "127.0.0.1:0", "--workers", "1"])
        .args(["--admin-addr", "off"])
        .args([
            "--upstream",
            &format!("http://{up}"),
            "--profile",
            "security",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    // "redactd: proxy listening on 127.0.0.1:PORT → http://…"
    let addr: std::net::SocketAddr = line
        .split_whitespace()
        .nth(4)
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));

    let c = client();
    let url = format!("http://{addr}/slow?email=jane.doe@example.com");
    let in_flight = tokio::spawn(async move { get(&c, &url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (resp, text) = in_flight.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(text, "slow done\n");

    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records: Vec<&str> = stdout.lines().collect();
    assert_eq!(records.len(), 1, "{stdout}");
    let r: serde_json::Value = serde_json::from_str(records[0]).unwrap();
    assert_eq!(r["status"], 200);
    assert!(r["url"].as_str().unwrap().starts_with("/slow?email="));
    assert!(!stdout.contains("jane.doe@example.com"), "{stdout}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(
        rest.contains("1 requests, 1 records written, 0 dropped"),
        "{rest}"
    );
}

#[test]
fn missing_tls_files_exit_64_naming_the_file() {
    let home = tempfile::tempdir().unwrap();
    let out = redactd(home.path())
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "http://127.0.0.1:9",
            "--admin-addr",
            "off",
        ])
        .args([
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/cert.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_counts_requests_and_redactions_without_traffic_values() {
    let home = tempfile::tempdir().unwrap();
    let up = start_upstream().await;
    let mut child = redactd(home.path())
        .args(["proxy", "--listen", "127.0.0.1:0", "--workers", "1"])
        .args([
            "--admin-addr",
            "127.0.0.1:0",
            "--upstream",
            &format!("http://{up}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (admin, proxy, _) = admin_and_proxy_addresses(&mut child);
    let c = client();
    let (resp, _) = get(&c, &format!("http://{proxy}/a?email=jane.doe@example.com")).await;
    assert_eq!(resp.status(), 200);
    let (ready, _) = get(&c, &format!("http://{admin}/readyz")).await;
    assert_eq!(ready.status(), 200);
    // The record is counted when the request ends; give the writer a moment.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, metrics) = get(&c, &format!("http://{admin}/metrics")).await;
    assert!(
        metrics.contains(r#"redactd_http_requests_total{code_class="2xx",method="GET"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"redactd_redactions_total{category="contact",rule="email"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"redactd_records_total{input="proxy"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains("jane") && !metrics.contains("/a?"),
        "{metrics}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_in_new_rules_and_refuses_a_bad_file_without_stopping() {
    let home = tempfile::tempdir().unwrap();
    let rules = home.path().join("mine.toml");
    let ticket_rule = "[[rule]]\nid = \"ticket\"\ncategory = \"usage\"\nregex = 'TCK-[0-9]{6}'\nplaceholder = \"[TICKET]\"\n";
    std::fs::write(&rules, "").unwrap();
    let up = start_upstream().await;
    let mut child = redactd(home.path())
        .args([
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--admin-addr",
            "off",
        ])
        .args(["--upstream", &format!("http://{up}"), "--rules"])
        .arg(&rules)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr: std::net::SocketAddr = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    let hup = |pid: u32| {
        assert!(Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    };
    let c = client();
    get(&c, &format!("http://{addr}/t/TCK-000001")).await;

    std::fs::write(&rules, ticket_rule).unwrap();
    hup(child.id());
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("reloaded"), "{line}");
    get(&c, &format!("http://{addr}/t/TCK-000002")).await;

    std::fs::write(
        &rules,
        "[[rule]]\nid = \"broken\"\ncategory = \"usage\"\nregex = '('\n",
    )
    .unwrap();
    hup(child.id());
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.contains("reload refused") && line.contains("mine.toml:4:9"),
        "{line}"
    );
    let (resp, _) = get(&c, &format!("http://{addr}/t/TCK-000003")).await;
    assert_eq!(resp.status(), 200, "still serving after a refused reload");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let urls: Vec<&str> = stdout
        .lines()
        .map(|l| {
            l.split("\"url\":\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        urls,
        ["/t/TCK-000001", "/t/[TICKET]", "/t/[TICKET]"],
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_from_the_command_line_pick_upstreams_and_dlp_is_counted_in_metrics() {
    let home = tempfile::tempdir().unwrap();
    let api = start_tagged_upstream("api").await;
    let web = start_tagged_upstream("web").await;
    let mut child = redactd(home.path())
        .args(["proxy", "--listen", "127.0.0.1:0", "--workers", "1"])
        .args(["--admin-addr", "127.0.0.1:0", "--dlp"])
        .args(["--route", &format!("/api/=http://{api}")])
        .args(["--upstream", &format!("http://{web}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (admin, proxy, line) = admin_and_proxy_addresses(&mut child);
    assert!(
        line.contains("/api/ → http://") && line.contains("default → http://"),
        "{line}"
    );
    let c = client();
    let (resp, _) = get(&c, &format!("http://{proxy}/api/users")).await;
    assert_eq!(resp.headers()["x-upstream"], "api");
    let (resp, text) = get(&c, &format!("http://{proxy}/dlp")).await;
    assert_eq!(resp.headers()["x-upstream"], "web");
    assert!(!text.contains("4111 1111 1111 1111"), "{text}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, metrics) = get(&c, &format!("http://{admin}/metrics")).await;
    assert!(
        metrics.contains(r#"redactd_dlp_bodies_total{outcome="scanned"} 1"#),
        "{metrics}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(r#""route":"/api/""#), "{stdout}");
    assert!(stdout.contains(r#""route":"default""#), "{stdout}");
}

#[test]
fn a_malformed_route_is_a_usage_error_saying_the_expected_form() {
    let home = tempfile::tempdir().unwrap();
    let out = redactd(home.path())
        .args(["proxy", "--route", "api=http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("path starting with `/`"), "{err}");
    let out = redactd(home.path()).args(["proxy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
