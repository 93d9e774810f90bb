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
        "[server]\nmetrics_token = \"m-token-0123456789\"\npreview_token = \"pv-token-0123456789\"\npublic_url = \"https://nurture.example.com\"\n\n[delivery]",
    );
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let metrics = format!("{}/metrics", server.base);
    assert_eq!(http("GET", &metrics, &[], "").status, 401);
    assert_eq!(http("GET", &metrics, &[("Authorization", "Bearer wrong")], "").status, 401);
    let r = http("GET", &metrics, &[("Authorization", "Bearer m-token-0123456789")], "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("nurture_unsubscribes_total"), "{}", r.body);
    let login = http(
        "POST",
        &format!("{}/preview/login", server.base),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "token=pv-token-0123456789",
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

#[test]
fn lint_refuses_short_or_shared_keys_and_unsigned_sms_webhooks() {
    let env = TestEnv::new("keys");
    env.patch_config(
        "[delivery]\n",
        "[leads]\n\n[leads.sources.web]\nkey = \"shared-key-0123456789\"\n\n[leads.sources.zillow]\nkey = \"shared-key-0123456789\"\n\n\
         [delivery]\n",
    );
    env.patch_config(
        "[privacy]\n",
        "[server]\npreview_token = \"x\"\nevents_token = \"shared-key-0123456789\"\n\n[privacy]\n",
    );
    env.patch_config("from = \"+15005550006\"", "from = \"+15005550006\"\nallow_unsigned_inbound = true");
    let out = env.nurture(&["lint"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{err}");
    for expected in [
        "[leads.sources.zillow] key: the same value as [leads.sources.web] key",
        "[server] events_token: the same value as [leads.sources.web] key",
        "[server] preview_token: 1 characters; a key needs at least 16",
        "[sms] allow_unsigned_inbound:",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    assert!(err.contains("nurture.toml:"), "each names its line: {err}");
    assert!(!err.contains("shared-key-0123456789"), "a key's value is never printed: {err}");
    // `run` refuses too, before anything is sent.
    assert!(!env.nurture(&["run", "--now", crate::NOW]).status.success());
    assert_eq!(env.sink().count(), 0);
}

#[test]
fn files_with_personal_data_are_owner_only_and_config_errors_hide_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new("modes");
    env.use_outboxes();
    env.import(crate::CONTACTS, &["--enrolled-on", "2026-11-03"]);
    env.ok(&["run", "--now", crate::NOW]);
    env.ok(&["export", "--out", "contacts.csv"]);
    env.ok(&["export", "--format", "xlsx", "--out", "contacts.xlsx"]);
    env.ok(&["report", "--html", "report.html"]);
    env.ok(&["backup", "backup.jsonl"]);
    let mut files = vec!["contacts.csv", "contacts.xlsx", "report.html", "backup.jsonl", "out/sms.jsonl"]
        .into_iter()
        .map(|f| env.path().join(f))
        .collect::<Vec<_>>();
    files.extend(
        std::fs::read_dir(env.path().join("out"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml")),
    );
    assert!(files.len() >= 8, "{files:?}");
    for f in &files {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", f.display());
    }

    // A syntax error on the line of a secret: the line is shown masked.
    let cfg = std::fs::read_to_string(env.path().join("nurture.toml")).unwrap();
    env.write(
        "nurture.toml",
        &cfg.replace("secret = \"test-secret\"", "secret = \"hunter2-secret"),
    );
    let out = env.nurture(&["lint"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("nurture.toml:"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn metrics_of_a_public_server_need_a_token_and_the_preview_login_is_throttled() {
    let env = TestEnv::new("publicmetrics");
    env.patch_config(
        "[unsubscribe]\n",
        "[server]\npreview_token = \"pv-token-0123456789\"\n\n[unsubscribe]\n",
    );
    let public = env.serve(&["--listen", "0.0.0.0:0", "--no-schedule", "--no-worker"]);
    let base = public.base.replace("0.0.0.0", "127.0.0.1");
    let metrics = http("GET", &format!("{base}/metrics"), &[], "");
    assert_eq!(metrics.status, 404, "{}", metrics.body);
    assert!(metrics.body.contains("metrics_token"), "{}", metrics.body);
    // Guessing the preview token: 10 tries a minute per client network, then 429.
    let tries: Vec<u16> = (0..12)
        .map(|i| {
            let body = format!("token=guess-{i}");
            http(
                "POST",
                &format!("{base}/preview/login"),
                &[("Content-Type", "application/x-www-form-urlencoded")],
                &body,
            )
            .status
        })
        .collect();
    assert!(
        tries[..10].iter().all(|s| *s == 401),
        "a wrong token: the login page again (401): {tries:?}"
    );
    assert_eq!(&tries[10..], &[429, 429], "{tries:?}");
    drop(public);
    // On loopback, /metrics stays open for a local scraper.
    let local = env.serve(&["--no-schedule", "--no-worker"]);
    assert_eq!(http("GET", &format!("{}/metrics", local.base), &[], "").status, 200);
}

#[test]
fn a_shutdown_closes_connections_without_a_request_in_flight_at_once() {
    let env = TestEnv::new("idleshutdown");
    env.patch_config("[delivery]", "[server]\nshutdown_secs = 10\n\n[delivery]");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let addr = server.base.trim_start_matches("http://").to_string();
    // Browsers pre-open connections and send nothing; a keep-alive one sits after its answer.
    let mut silent: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    // Others have sent part of their headers and nothing more.
    silent.extend(slow_loris(&addr, 5));
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 256];
    assert!(kept.read(&mut buf).unwrap() > 0);
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    assert!(server.terminate().success());
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "shutdown took {took:?} for connections with nothing in flight"
    );
    for s in silent.iter_mut().chain(std::iter::once(&mut kept)) {
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)), "closed by the server");
    }
}
