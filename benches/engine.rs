//! Criterion benches of the engine's hot paths: clean text, access-log lines, PII-dense
//! text, and whole-line redaction per format. `cargo bench --bench engine`.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use redactd::format::Format;
use redactd::pseudo::ipcrypt::{IpCryptDeterministic, IpCryptPfx};
use redactd::pseudo::{Key, Pseudonymiser};
use redactd::redact::Redactor;
use redactd::rules::RuleSet;

fn redactor() -> Redactor {
    Redactor::new(
        &RuleSet::shipped(),
        Some(Pseudonymiser::new(&Key::from_bytes([9; 32]))),
    )
    .unwrap()
}

const ACCESS: &str = concat!(
    "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1\" 200 203023 \"http://semicomplete.com/presentations/logstash-monitorama-2013/\" \"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36\"\n",
    "2a00:1450:4009:81f::200e - - [10/Mar/2024:00:00:01 +0000] \"GET /search?q=red+shoes&page=2&utm_source=news HTTP/2.0\" 200 5120 \"https://www.google.com/\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\"\n",
    "86.12.5.77 - - [10/Mar/2024:00:00:02 +0000] \"POST /account/update?email=jane.doe%40example.com HTTP/1.1\" 302 0 \"https://www.example-shop.co.uk/account\" \"Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2.1 Mobile/15E148 Safari/604.1\"\n",
);

const PROSE: &str = "The quick brown fox jumps over the lazy dog while the service keeps running smoothly and nothing at all happens in this log message, which is exactly what most log lines look like on a quiet day. ";

const DENSE: &str = "user jane.doe@example.com from 203.0.113.9 paid with 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, call 07700 900123 or +44 20 7946 0958, token=abc123def456, NI AB 12 34 56 C, SW1A 1AA.\n";

fn repeat_to(text: &str, bytes: usize) -> String {
    text.repeat(bytes / text.len() + 1)[..bytes].to_string()
}

fn bench_text(c: &mut Criterion) {
    let r = redactor();
    let mut group = c.benchmark_group("redactd::redact::Redactor");
    for (name, text) in [
        ("redact_text/no_match_4k", repeat_to(PROSE, 4096)),
        ("redact_text/dense_pii_4k", repeat_to(DENSE, 4096)),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            let mut s = r.scratch();
            let mut out = Vec::with_capacity(8192);
            b.iter(|| {
                out.clear();
                r.redact_text(text.as_bytes(), &mut out, &mut s);
                out.len()
            })
        });
    }
    group.finish();
}

/// Response-body DLP's streaming redactor (financial rules, 128-byte window): a 64 KiB
/// JSON-ish body arriving in 4 KiB chunks, a card number or IBAN every ~200 bytes.
fn bench_stream(c: &mut Criterion) {
    use redactd::redact::stream::StreamRedactor;
    let dlp = Redactor::new(&redactd::proxy::dlp_rules(&RuleSet::shipped()), None).unwrap();
    let body = repeat_to(
        "{\"order\":1042,\"card\":\"4111 1111 1111 1111\",\"note\":\"refund to GB82 WEST 1234 5698 7654 32 within 5 days\",\"items\":[1,2,3]},\n",
        64 * 1024,
    );
    let mut group = c.benchmark_group("redactd::redact::stream");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("dlp_body_64k_in_4k_chunks", |b| {
        let mut s = dlp.scratch();
        let mut out = Vec::with_capacity(body.len() + 1024);
        b.iter(|| {
            out.clear();
            let mut stream = StreamRedactor::new(&dlp, 128);
            for chunk in body.as_bytes().chunks(4096) {
                stream.push(chunk, &mut out, &mut s);
            }
            stream.finish(&mut out, &mut s);
            out.len()
        })
    });
    group.finish();
}

/// The proxy's access record through the `security` profile, written member by member as
/// `proxy::record` does (members resolved once): the per-request cost of minimisation
/// beyond proxying.
fn bench_proxy_record(c: &mut Criterion) {
    use redactd::config::Config;
    use redactd::format::json::ROOT_PATH;
    use redactd::minimise::Minimiser;
    let key = Key::from_bytes([9; 32]);
    let profile = Config::shipped().profile("security").unwrap().clone();
    let r = redactor().with_minimiser(Minimiser::new(profile, Some(&key), None).unwrap());
    let values: &[(&str, &str)] = &[
        ("time", "2026-11-30T15:04:12.345Z"),
        ("client_ip", "127.0.0.1"),
        ("host", "127.0.0.1:18082"),
        ("url", "/"),
        ("route", "default"),
    ];
    let members: Vec<_> = values
        .iter()
        .map(|(name, _)| r.json_member(ROOT_PATH, name))
        .collect();
    let headers = r.json_member(ROOT_PATH, "headers");
    let accept = r.json_member(headers.path(), "accept");
    let mut group = c.benchmark_group("redactd::redact::Redactor::redact_json_member");
    group.bench_function("proxy_record_security", |b| {
        let mut s = r.scratch();
        let mut out = Vec::with_capacity(1024);
        b.iter(|| {
            out.clear();
            for (member, (_, text)) in members.iter().zip(values) {
                r.redact_json_member(member, black_box(text.as_bytes()), &mut out, &mut s);
            }
            r.redact_json_member(&accept, black_box(b"*/*"), &mut out, &mut s);
            out.len()
        })
    });
    group.finish();
}

fn bench_lines(c: &mut Criterion) {
    let r = redactor();
    let mut group = c.benchmark_group("redactd::redact::Redactor::redact_line");
    for (name, text, format) in [
        ("access_combined", ACCESS, Format::Combined),
        ("access_auto", ACCESS, Format::Auto),
        ("access_as_text", ACCESS, Format::Text),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            let mut s = r.scratch();
            let mut out = Vec::with_capacity(4096);
            b.iter(|| {
                out.clear();
                for line in text.lines() {
                    r.redact_line(line.as_bytes(), format, &mut out, &mut s);
                }
                out.len()
            })
        });
    }
    group.finish();
}

fn bench_pseudonymise(c: &mut Criterion) {
    let p = Pseudonymiser::new(&Key::from_bytes([3; 32]));
    let mut group = c.benchmark_group("redactd::pseudo::Pseudonymiser");
    group.bench_function("token/email", |b| {
        let mut out = Vec::with_capacity(64);
        b.iter(|| {
            out.clear();
            p.token("email", b"jane.doe@example.com", &mut out);
        })
    });
    group.bench_function("compile/shipped_rules", |b| {
        b.iter_batched(
            RuleSet::shipped,
            |rules| Redactor::new(&rules, Some(p.clone())).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn bench_ipcrypt(c: &mut Criterion) {
    let det = IpCryptDeterministic::new(&[7; 16]);
    let key: [u8; 32] = std::array::from_fn(|i| i as u8);
    let pfx = IpCryptPfx::new(&key).unwrap();
    let v4: IpAddr = "203.0.113.9".parse().unwrap();
    let v6: IpAddr = "2a00:1450:4009:81f::200e".parse().unwrap();
    let mut group = c.benchmark_group("redactd::pseudo::ipcrypt");
    group.throughput(Throughput::Elements(1));
    group.bench_function("deterministic/v4", |b| {
        b.iter(|| det.encrypt(black_box(v4)))
    });
    group.bench_function("pfx/v4", |b| b.iter(|| pfx.encrypt(black_box(v4))));
    group.bench_function("pfx/v6", |b| b.iter(|| pfx.encrypt(black_box(v6))));
    group.finish();
}

fn bench_geo(c: &mut Criterion) {
    use redactd::minimise::geo::{GeoCache, GeoConfig, GeoDb};
    use std::net::IpAddr;

    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/geoip/");
    let config = GeoConfig {
        country: None,
        city: Some(format!("{shared}geolite2-city-2018/GeoLite2-City.mmdb").into()),
        asn: Some(format!("{shared}maxmind-test/GeoLite2-ASN-Test.mmdb").into()),
    };
    let db = match GeoDb::open(&config) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("skipping redactd::minimise::geo: {e}");
            return;
        }
    };
    // Clients from the Elastic example access log, one not in the database.
    let ips: Vec<IpAddr> = [
        "83.149.9.216",
        "66.249.73.135",
        "46.105.14.53",
        "130.237.218.86",
        "75.97.9.59",
        "50.16.19.13",
        "209.85.238.199",
        "100.43.83.137",
        "87.158.133.11",
        "2001:41d0:8:f69::1",
        "10.77.20.248",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let mut group = c.benchmark_group("redactd::minimise::geo");
    group.throughput(Throughput::Elements(1));
    group.bench_function("lookup/cold", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ips.len();
            db.lookup(ips[i])
        })
    });
    group.bench_function("lookup/cached", |b| {
        let mut cache = GeoCache::new(1024);
        let mut out = Vec::with_capacity(32);
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ips.len();
            out.clear();
            cache
                .lookup(&db, ips[i])
                .render(Default::default(), &mut out);
            out.len()
        })
    });
    group.finish();
}

const UA_CHROME: &[u8] = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

fn bench_minimise_agent(c: &mut Criterion) {
    use redactd::minimise::agent::AgentGeneraliser;
    let mut group = c.benchmark_group("redactd::minimise::agent");
    group.bench_function("generalise/cold", |b| {
        b.iter_batched_ref(
            || (AgentGeneraliser::new(1024), Vec::with_capacity(64)),
            |(g, out)| {
                g.generalise(UA_CHROME, out);
                out.len()
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("generalise/cached", |b| {
        let mut g = AgentGeneraliser::new(1024);
        let mut out = Vec::with_capacity(64);
        g.generalise(UA_CHROME, &mut out);
        b.iter(|| {
            out.clear();
            g.generalise(UA_CHROME, &mut out);
            out.len()
        })
    });
    group.finish();
}

fn bench_minimise_uri(c: &mut Criterion) {
    use redactd::minimise::uri::{minimise_referrer, minimise_target, UriPolicy};
    let policy = UriPolicy {
        allow: vec!["page".into(), "utm_source".into()],
        own_hosts: vec!["www.example-shop.co.uk".into()],
        ..UriPolicy::default()
    };
    let mut scan = |t: &[u8], out: &mut Vec<u8>| out.extend_from_slice(t);
    let mut group = c.benchmark_group("redactd::minimise::uri");
    group.bench_function("minimise_target/template_allowlist", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            minimise_target(
                &policy,
                b"/users/jane.doe%40example.com/orders/12345?page=2&token=abc&q=red+shoes",
                &mut out,
                &mut scan,
            );
            out.len()
        })
    });
    group.bench_function("minimise_referrer/origin", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            out.clear();
            minimise_referrer(
                &policy,
                b"https://www.google.com/search?q=jane+doe+address",
                &mut out,
                &mut scan,
            );
            out.len()
        })
    });
    group.finish();
}

/// Whole-record minimisation: the first 2,000 lines of the shared Apache corpus under each
/// shipped profile (GeoLite2-City 2018 + the ASN test database), against no profile.
fn bench_profiles(c: &mut Criterion) {
    use redactd::config::Config;
    use redactd::minimise::geo::{GeoConfig, GeoDb};
    use redactd::minimise::Minimiser;
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let Ok(log) =
        std::fs::read_to_string(shared.join("corpus/access/elastic-examples_apache_logs.log"))
    else {
        eprintln!("skipping profile benches: ../shared/corpus not found");
        return;
    };
    let lines: Vec<&str> = log.lines().take(2000).collect();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let geo = GeoConfig {
        country: None,
        city: Some(shared.join("geoip/geolite2-city-2018/GeoLite2-City.mmdb")),
        asn: Some(shared.join("geoip/maxmind-test/GeoLite2-ASN-Test.mmdb")),
    };
    let geo = std::sync::Arc::new(GeoDb::open(&geo).unwrap());
    let key = Key::from_bytes([9; 32]);
    let config = Config::shipped();
    let mut group = c.benchmark_group("redactd::minimise::profile");
    group.throughput(Throughput::Bytes(bytes as u64));
    for name in ["none", "security", "analytics"] {
        let mut r = redactor();
        if let Ok(profile) = config.profile(name) {
            r = r.with_minimiser(
                Minimiser::new(profile.clone(), Some(&key), Some(geo.clone())).unwrap(),
            );
        }
        group.bench_function(format!("apache_logs_2000/{name}"), |b| {
            let mut s = r.scratch();
            let mut out = Vec::with_capacity(bytes * 2);
            b.iter(|| {
                out.clear();
                for line in &lines {
                    r.redact_line(line.as_bytes(), Format::Auto, &mut out, &mut s);
                }
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_profiles,
    bench_text,
    bench_stream,
    bench_proxy_record,
    bench_lines,
    bench_pseudonymise,
    bench_ipcrypt,
    bench_geo,
    bench_minimise_agent,
    bench_minimise_uri
);
criterion_main!(benches);
