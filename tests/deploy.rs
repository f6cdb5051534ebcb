//! `deploy/` stays true to the code: the alert rules pass `promtool check rules` and their
//! unit tests, every metric the dashboard and the alerts query is one `Metrics` exports, and
//! the systemd unit and Kubernetes manifests use commands, flags, ports and paths that exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use redactd::admin;
use redactd::metrics::{Input, Method, Metrics, SinkOutcome, UpstreamError, FAMILIES};
use redactd::rules::RuleSet;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

fn promtool(args: &[&str]) -> std::process::Output {
    Command::new("promtool")
        .args(args)
        .current_dir(deploy("prometheus"))
        .output()
        .expect("promtool is needed (Debian package `prometheus`; .ci/run installs it)")
}

/// Every series name a scrape of a fully used `Metrics` holds (histograms with their
/// `_bucket`, `_sum` and `_count` series).
fn scraped_names() -> BTreeSet<String> {
    let m = Metrics::new();
    m.observe_request(Method::Get, 200, Duration::from_millis(1));
    m.upstream_error(UpstreamError::Other);
    let _conn = m.connection_opened();
    m.add_records(Input::Proxy, 1, 1, 1);
    m.add_redactions(&RuleSet::shipped().rules()[0], 1);
    let sink = m.sink("s");
    sink.events(SinkOutcome::Sent, 1);
    sink.retry();
    sink.batch(1);
    sink.set_queue_depth(1);
    sink.set_buffer(1, 2);
    m.set_key_epoch(SystemTime::now(), Duration::from_secs(60));
    m.encode()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

/// The `redactd_…` identifiers in a text (PromQL expressions, in JSON or YAML).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("redactd_") {
        let boundary = rest[..i]
            .chars()
            .next_back()
            .map_or(true, |c| !(c.is_ascii_alphanumeric() || c == '_'));
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if boundary {
            names.insert(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

fn admin_port() -> &'static str {
    admin::DEFAULT_ADDR.rsplit(':').next().unwrap()
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let out = promtool(&["check", "rules", "alerts.yml"]);
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = promtool(&["test", "rules", "alerts.test.yml"]);
    assert!(
        out.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alerts_cover_the_failure_modes_and_use_only_exported_metrics() {
    let alerts = read("prometheus/alerts.yml");
    for name in [
        "RedactdSinkFailing",
        "RedactdRecordsDropped",
        "RedactdSinkBufferFilling",
        "RedactdReloadFailed",
        "RedactdKeyEpochOverdue",
    ] {
        assert!(alerts.contains(&format!("alert: {name}\n")), "{name}");
    }
    let scraped = scraped_names();
    let used = metric_names(&alerts);
    assert!(used.len() >= 6, "{used:?}");
    for name in &used {
        assert!(
            scraped.contains(name),
            "alerts.yml uses {name}, which redactd does not export"
        );
    }
}

#[test]
fn dashboard_parses_and_queries_only_exported_metrics() {
    let text = read("grafana/redactd.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(dashboard["uid"], "redactd");
    let mut exprs = String::new();
    let panels = dashboard["panels"].as_array().unwrap();
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push_str(target["expr"].as_str().unwrap());
            exprs.push('\n');
        }
    }
    let scraped = scraped_names();
    let used = metric_names(&exprs);
    for name in &used {
        assert!(
            scraped.contains(name),
            "the dashboard queries {name}, which redactd does not export"
        );
    }
    // Traffic, latency, redactions by category, drops, sink health, buffer fill.
    for name in [
        "redactd_http_requests_total",
        "redactd_http_request_duration_seconds_bucket",
        "redactd_redactions_total",
        "redactd_records_dropped_total",
        "redactd_sink_events_total",
        "redactd_sink_buffer_bytes",
        "redactd_sink_buffer_max_bytes",
    ] {
        assert!(used.contains(name), "the dashboard has no panel on {name}");
    }
    assert!(exprs.contains("sum by (category) (rate(redactd_redactions_total"));
}

#[test]
fn every_family_of_the_registry_is_in_the_scrape() {
    let scraped = scraped_names();
    for family in FAMILIES {
        let series = match family.kind {
            redactd::metrics::Kind::Histogram => format!("{}_bucket", family.name),
            _ => family.name.to_string(),
        };
        assert!(scraped.contains(&series), "{series}");
    }
}

/// A valid configuration for running the commands the deploy files name.
fn valid_config(dir: &Path) -> PathBuf {
    let config = dir.join("redactd.toml");
    std::fs::write(
        &config,
        format!("[keys]\ndir = \"{}\"\n", dir.join("keys").display()),
    )
    .unwrap();
    let out = redactd(dir)
        .args(["keys", "init", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    config
}

fn redactd(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redactd"));
    cmd.env_remove("REDACTD_KEY")
        .env_remove("REDACTD_KEY_FILE")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home);
    cmd
}

/// Runs a `/usr/bin/redactd …` command line from a deploy file with `/etc/redactd/redactd.toml`
/// replaced by `config`; returns its exit status.
fn run_line(line: &str, config: &Path, home: &Path) -> Option<i32> {
    let args: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|a| a.replace("/etc/redactd/redactd.toml", config.to_str().unwrap()))
        .collect();
    redactd(home).args(&args).output().unwrap().status.code()
}

#[test]
fn systemd_unit_checks_before_start_and_reload_and_is_hardened() {
    let unit = read("systemd/redactd.service");
    let dir = tempfile::tempdir().unwrap();
    let config = valid_config(dir.path());
    let pre: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStartPre="))
        .collect();
    assert_eq!(
        pre,
        ["/usr/bin/redactd check -q -c /etc/redactd/redactd.toml"]
    );
    // The very command line works with the binary.
    assert_eq!(run_line(pre[0], &config, dir.path()), Some(0));
    let reload: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ExecReload="))
        .collect();
    assert_eq!(reload, [pre[0], "/bin/kill -HUP $MAINPID"]);
    for directive in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "CapabilityBoundingSet=\n",
        "UMask=077",
        "ReadWritePaths=/var/lib/redactd",
        "RestartPreventExitStatus=64",
    ] {
        assert!(unit.contains(directive), "{directive}");
    }
    assert!(unit.contains(&format!("--admin-addr {}", admin::DEFAULT_ADDR)));

    let keys = read("systemd/redactd-keys.service");
    for line in keys.lines().filter_map(|l| l.strip_prefix("ExecStart=")) {
        assert_eq!(run_line(line, &config, dir.path()), Some(0), "{line}");
    }
}

#[test]
fn kubernetes_probes_and_scraping_use_the_admin_listener() {
    let deployment = read("kubernetes/deployment.yaml");
    let port = admin_port();
    assert!(deployment.contains(&format!("{{name: admin, containerPort: {port}}}")));
    assert!(deployment.contains(&format!(
        "httpGet: {{path: {}, port: admin}}",
        admin::HEALTHZ
    )));
    assert!(deployment.contains(&format!(
        "httpGet: {{path: {}, port: admin}}",
        admin::READYZ
    )));
    assert!(deployment.contains(&format!("prometheus.io/port: \"{port}\"")));
    assert!(deployment.contains(&format!("prometheus.io/path: {}", admin::METRICS)));
    assert!(deployment.contains(r#"args: ["check", "-q", "-c", "/etc/redactd/redactd.toml"]"#));
    assert!(deployment.contains("secret: {secretName: redactd-keys, defaultMode: 0400}"));
    assert!(deployment.contains("readOnlyRootFilesystem: true"));
    assert!(deployment.contains("runAsNonRoot: true"));
    let monitor = read("kubernetes/servicemonitor.yaml");
    assert!(monitor.contains(&format!("path: {}", admin::METRICS)));
    let service = read("kubernetes/service.yaml");
    assert!(service.contains(&format!("port: {port}, targetPort: admin")));
    for file in [
        "configmap.yaml",
        "secret.yaml",
        "deployment.yaml",
        "service.yaml",
        "hpa.yaml",
        "servicemonitor.yaml",
        "cronjob-keys.yaml",
    ] {
        assert!(
            read("kubernetes/kustomization.yaml").contains(&format!("  - {file}\n")),
            "{file}"
        );
    }
}

#[test]
fn kubernetes_config_map_holds_a_valid_config_and_the_cron_job_real_commands() {
    let map = read("kubernetes/configmap.yaml");
    let toml: String = map
        .lines()
        .skip_while(|l| !l.ends_with("redactd.toml: |"))
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let config = redactd::config::Config::parse("configmap.yaml", &toml, None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.keys.as_ref().unwrap().dir,
        PathBuf::from("/run/redactd/keys")
    );
    assert!(config.profile("security").is_ok());

    let cron = read("kubernetes/cronjob-keys.yaml");
    let dir = tempfile::tempdir().unwrap();
    let valid = valid_config(dir.path());
    for sub in ["rotate", "prune"] {
        let args = format!(r#"args: ["keys", "{sub}", "-c", "/etc/redactd/redactd.toml"]"#);
        assert!(cron.contains(&args), "{args}");
        let line = format!("/usr/bin/redactd keys {sub} -c /etc/redactd/redactd.toml");
        assert_eq!(run_line(&line, &valid, dir.path()), Some(0), "{line}");
    }
}

#[test]
fn dockerfile_is_multi_stage_and_runs_as_non_root() {
    let docker = read("Dockerfile");
    let froms: Vec<&str> = docker.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].starts_with("FROM rust:") && froms[0].ends_with(" AS build"));
    assert!(froms[1].contains("distroless"));
    assert!(docker.contains("USER 65532:65532"));
    assert!(docker.contains(&format!("EXPOSE 8080 {}", admin_port())));
    assert!(docker.contains("--locked"));
}

#[test]
fn readme_metrics_table_lists_every_family_with_its_type_and_labels() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for family in FAMILIES {
        let labels = if family.labels.is_empty() {
            "—".to_string()
        } else {
            family
                .labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let row = format!(
            "| `{}` | {} | {} | {} |",
            family.name,
            family.kind.as_str(),
            labels,
            family.help
        );
        assert!(
            readme.contains(&row),
            "README lacks or differs from:\n{row}"
        );
    }
}
