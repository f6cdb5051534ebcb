//! The syslog input end to end through the binary: UDP datagrams and TCP over TLS reach the
//! file sink minimised; an oversize datagram is dropped and counted, never written.

mod ship_support;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::Arc;

use ship_support::*;

fn sink_config(out: &std::path::Path) -> String {
    format!(
        "[[sink]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\nencoding = \"raw\"\nbatch_timeout_ms = 20\n",
        out.display()
    )
}

fn written(out: &std::path::Path) -> String {
    std::fs::read_to_string(out).unwrap_or_default()
}

#[test]
fn udp_messages_arrive_minimised_and_an_oversize_one_is_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("syslog.log");
    let extra = format!(
        "[[input]]\ntype = \"syslog\"\nudp = \"127.0.0.1:{port}\"\nmax_message_bytes = 256\n\n{}",
        sink_config(&out)
    );
    let config = write_config(dir.path(), &extra);
    let mut child = spawn_run(dir.path(), &config, &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let message = b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for jane@example.com on /dev/pts/8 from 198.51.100.7";
    let oversize = format!(
        "<34>Oct 11 22:14:15 mymachine app: {} jane@example.com",
        "x".repeat(400)
    );
    // The listener may still be starting: resend until the first message lands.
    assert!(wait_until(20, || {
        socket.send_to(message, ("127.0.0.1", port)).unwrap();
        written(&out).contains("mymachine su:")
    }));
    socket
        .send_to(oversize.as_bytes(), ("127.0.0.1", port))
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    terminate(&mut child);
    let text = written(&out);
    assert!(
        text.starts_with("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for email:"),
        "{text}"
    );
    assert!(
        !text.contains("jane@example.com")
            && !text.contains("198.51.100.7")
            && !text.contains("xxxx"),
        "{text}"
    );
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(stderr.contains(" 1 dropped as oversize"), "{stderr}");
    assert!(!stderr.contains("jane"), "{stderr}");
}

#[test]
fn tcp_over_tls_messages_arrive_minimised() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    let port = free_port();
    let out = dir.path().join("syslog.log");
    let extra = format!(
        "[[input]]\ntype = \"syslog\"\ntcp = \"127.0.0.1:{port}\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\n{}",
        sink_config(&out)
    );
    let config = write_config(dir.path(), &extra);
    let mut child = spawn_run(dir.path(), &config, &[]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut tcp = None;
    assert!(wait_until(20, || {
        tcp = TcpStream::connect(("127.0.0.1", port)).ok();
        tcp.is_some()
    }));
    let conn =
        rustls::ClientConnection::new(Arc::new(client), "localhost".try_into().unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp.unwrap());
    let msg = "<165>1 2003-10-11T22:14:15.003Z host app - - - card 4111 1111 1111 1111 from 203.0.113.9\n";
    tls.write_all(format!("{} {msg}", msg.len()).as_bytes())
        .unwrap();
    tls.flush().unwrap();
    assert!(wait_until(20, || written(&out).contains("host app")));
    drop(tls);
    terminate(&mut child);
    let text = written(&out);
    assert!(text.contains("card **** **** **** 1111 from ip:"), "{text}");
    assert!(
        !text.contains("203.0.113.9") && !text.contains("4111 1111 1111 1111"),
        "{text}"
    );
}

#[test]
fn sighup_swaps_new_rules_into_run_and_refuses_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("mine.toml");
    std::fs::write(&rules, "").unwrap();
    let port = free_port();
    let out = dir.path().join("syslog.log");
    let extra = format!(
        "[rules]\nfiles = [\"mine.toml\"]\n\n[[input]]\ntype = \"syslog\"\nudp = \"127.0.0.1:{port}\"\n\n{}",
        sink_config(&out)
    );
    let config = write_config(dir.path(), &extra);
    let mut child = spawn_run(dir.path(), &config, &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |n: u32| {
        let msg = format!("<34>Oct 11 22:14:15 host app: ticket TCK-00000{n}");
        socket.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
    };
    let lines = || written(&out).lines().count();
    assert!(wait_until(20, || {
        send(1);
        lines() > 0
    }));
    let before = lines();
    let stderr_has = |needle: &str| {
        wait_until(20, || {
            std::fs::read_to_string(dir.path().join("stderr.log"))
                .unwrap()
                .contains(needle)
        })
    };
    std::fs::write(&rules, "[[rule]]\nid = \"ticket\"\ncategory = \"usage\"\nregex = 'TCK-[0-9]{6}'\nplaceholder = \"[TICKET]\"\n").unwrap();
    signal(child.id(), "HUP");
    assert!(stderr_has("reloaded"));
    send(2);
    assert!(wait_until(20, || lines() > before));
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"broken\"\ncategory = \"usage\"\nregex = '('\n",
    )
    .unwrap();
    signal(child.id(), "HUP");
    assert!(stderr_has("reload refused"));
    send(3);
    assert!(wait_until(20, || written(&out)
        .contains("ticket [TICKET]\n")
        && lines() > before + 1));
    terminate(&mut child);
    let text = written(&out);
    assert!(text.contains("TCK-000001"), "{text}");
    assert!(
        !text.contains("TCK-000002") && !text.contains("TCK-000003"),
        "{text}"
    );
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(stderr.contains("mine.toml:4:9"), "{stderr}");
}
