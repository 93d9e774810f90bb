//! `nurture serve` as the open internet meets it: slow-loris connections, oversized bodies,
//! and a shutdown while clients hold connections open.

use crate::support::{TestEnv, http};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Opens `n` connections that send half a request and then one header byte a second.
fn slow_loris(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ").as_bytes())
                .unwrap();
            s
        })
        .collect()
}

fn trickle(conns: &mut [TcpStream]) {
    for s in conns.iter_mut() {
        let _ = s.write_all(b"a");
    }
}

fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 512];
    match s.read(&mut buf) {
        Ok(0) => true,                                                           // EOF
        Ok(n) => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"), // hyper's 408, then EOF
        Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
    }
}

#[test]
fn slow_loris_connections_are_cut_off_and_the_server_keeps_answering() {
    let env = TestEnv::new("slowloris");
    env.patch_config("[delivery]", "[server]\nheader_timeout_secs = 4\nshutdown_secs = 2\n\n[delivery]");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut loris = slow_loris(&addr, 300);
    trickle(&mut loris);
    // With 300 of them open, a health check and an unsubscribe still answer at once.
    let t = Instant::now();
    assert_eq!(http("GET", &format!("{}/healthz", server.base), &[], "").status, 200);
    let link = nurture::compliance::token::unsubscribe_url(&server.base, "test-secret", "ann@example.com", "ann@example.com");
    let r = http(
        "POST",
        &link,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "List-Unsubscribe=One-Click",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let took = t.elapsed();
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    // However slowly they trickle, their headers are never complete: cut off after 4 s.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(12) && !loris.iter_mut().all(closed_by_server) {
        trickle(&mut loris);
        std::thread::sleep(Duration::from_millis(500));
    }
    let open = loris.iter_mut().map(closed_by_server).filter(|closed| !closed).count();
    assert_eq!(open, 0, "{open} slow connections still open after {:?}", started.elapsed());

    // A 10 MB body is refused from its Content-Length, before it is sent.
    for path in ["/events", "/sms/inbound", "/u/abc.def", "/healthz"] {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n").as_bytes())
            .unwrap();
        let mut head = [0u8; 64];
        let n = s.read(&mut head).unwrap();
        let status = String::from_utf8_lossy(&head[..n]).to_string();
        assert!(
            status.starts_with("HTTP/1.1 413") || status.starts_with("HTTP/1.1 405"),
            "{path}: {status}"
        );
    }

    // A shutdown with clients holding connections open ends within `shutdown_secs`.
    let _held = slow_loris(&addr, 50);
    let t = Instant::now();
    assert!(server.terminate().success());
    assert!(t.elapsed() < Duration::from_secs(5), "shutdown took {:?}", t.elapsed());
}

#[test]
fn metrics_can_need_a_token_and_the_preview_session_expires_and_is_secure_behind_https() {
    let env = TestEnv::new("exposure");
    env.patch_config(
        "[delivery]",
        "[server]\nmetrics_token = \"m-token\"\npreview_token = \"pv-token\"\npublic_url = \"https://nurture.example.com\"\n\n[delivery]",
    );
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let metrics = format!("{}/metrics", server.base);
    assert_eq!(http("GET", &metrics, &[], "").status, 401);
    assert_eq!(http("GET", &metrics, &[("Authorization", "Bearer wrong")], "").status, 401);
    let r = http("GET", &metrics, &[("Authorization", "Bearer m-token")], "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("nurture_unsubscribes_total"), "{}", r.body);
    let login = http(
        "POST",
        &format!("{}/preview/login", server.base),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "token=pv-token",
    );
    let cookie = login
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {}", login.headers))
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
}
