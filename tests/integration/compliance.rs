//! Opt-out paths end to end: unsubscribe links served by `nurture serve`, SMS STOP/START
//! through the provider webhook, quiet hours, and the browser flow.

use crate::support::{TestEnv, header, http};
use crate::{CONTACTS, DATE, NOW};
use std::time::Duration;

fn unsubscribe_path(raw: &str) -> String {
    let h = header(raw, "List-Unsubscribe").unwrap();
    let url = h.trim_matches(|c| c == '<' || c == '>');
    url.strip_prefix("http://127.0.0.1:8080").unwrap().to_string()
}

pub(crate) fn link_for(env: &TestEnv, to: &str) -> String {
    let m = env
        .sink()
        .messages()
        .into_iter()
        .find(|m| header(m, "X-Rcpt-Args").as_deref() == Some(&format!("<{to}>")))
        .unwrap();
    unsubscribe_path(&m)
}

fn suppressed(env: &TestEnv) -> Vec<(String, String, String)> {
    env.json(&["suppress", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["channel"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
                e["reason"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn one_click_unsubscribe_stops_later_mail_and_tokens_cannot_be_forged() {
    let env = TestEnv::new("unsub");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    assert_eq!(env.json(&["run", "--now", NOW])["sent"], 3);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let olivia = link_for(&env, "olivia.bennett@example.com");
    let ahmed = link_for(&env, "ahmed@example.com");

    // A GET shows the page and changes nothing (mail scanners fetch links).
    let page = http("GET", &format!("{}{olivia}", server.base), &[], "");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<form method=\"post\">") && page.body.contains("olivia.bennett@example.com"),
        "{}",
        page.body
    );
    assert!(suppressed(&env).is_empty());
    let ar = http("GET", &format!("{}{ahmed}", server.base), &[], "");
    assert!(
        ar.body.contains("dir=\"rtl\"") && ar.body.contains("lang=\"ar\"") && ar.body.contains("إلغاء الاشتراك"),
        "{}",
        ar.body
    );

    // Forged, truncated, altered, or A's old-style signature on B's id: 404, nothing changes.
    let token = olivia.trim_start_matches("/u/");
    let flipped = format!("{}{}", if token.starts_with('A') { 'B' } else { 'A' }, &token[1..]);
    let old_olivia = nurture::compliance::token::sign_v1("test-secret", "olivia.bennett@example.com");
    let old_ahmed = nurture::compliance::token::sign_v1("test-secret", "ahmed@example.com");
    let (_, olivia_tag) = old_olivia.split_once('.').unwrap();
    let (ahmed_id, _) = old_ahmed.split_once('.').unwrap();
    for bad in [
        format!("/u/{}", &token[..token.len() - 1]),
        format!("/u/{flipped}"),
        format!("/u/{ahmed_id}.{olivia_tag}"),
        format!("/u/{}", nurture::compliance::token::sign_v1("other-secret", "ahmed@example.com")),
        "/u/garbage".into(),
        format!("/u/{ahmed_id}"),
    ] {
        let r = http(
            "POST",
            &format!("{}{bad}", server.base),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "List-Unsubscribe=One-Click",
        );
        assert_eq!(r.status, 404, "{bad}");
    }
    assert!(suppressed(&env).is_empty());

    // RFC 8058 one-click: urlencoded, 200, no redirect, no cookie; repeating is harmless.
    for _ in 0..2 {
        let r = http(
            "POST",
            &format!("{}{olivia}", server.base),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "List-Unsubscribe=One-Click",
        );
        assert_eq!(r.status, 200, "{r:?}");
        let h = r.headers.to_ascii_lowercase();
        assert!(!h.contains("\r\nlocation:") && !h.contains("set-cookie"), "{h}");
    }
    // Multipart one-click.
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
    let r = http(
        "POST",
        &format!("{}{ahmed}", server.base),
        &[("Content-Type", "multipart/form-data; boundary=XyZ")],
        body,
    );
    assert_eq!(r.status, 200);
    let list = suppressed(&env);
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().all(|(c, _, r)| c == "email" && r == "unsubscribe"));

    // The next touch (a week later) reaches Grace only.
    let s = env.json(&["run", "--date", "2026-11-27", "--now", "2026-11-27T18:00:00Z"]);
    assert_eq!((s["sent"].as_u64(), s["suppressed"].as_u64()), (Some(1), Some(2)), "{s}");
    let last: Vec<String> = env.sink().messages().iter().filter_map(|m| header(m, "X-Rcpt-Args")).collect();
    assert_eq!(
        last.iter().filter(|r| r.contains("olivia")).count(),
        1,
        "Olivia got only the first email"
    );

    // Health, metrics, graceful stop.
    assert_eq!(http("GET", &format!("{}/healthz", server.base), &[], "").status, 200);
    let m = http("GET", &format!("{}/metrics", server.base), &[], "").body;
    assert!(
        m.contains("nurture_unsubscribes_total 3") && m.contains("nurture_bad_tokens_total 6"),
        "{m}"
    );
    assert!(m.contains("nurture_suppressed{channel=\"email\"} 2"), "{m}");
    assert!(server.terminate().success(), "serve exits 0 on SIGTERM");
}

/// POSTs an inbound SMS to `serve` as Twilio would, signed with the test token (or forged).
pub(crate) fn post_sms(base: &str, from: &str, body: &str, sign: bool) -> crate::support::HttpResponse {
    post_sms_as(base, from, body, sign, None)
}

/// [`post_sms`] with the provider's `MessageSid`.
pub(crate) fn post_sms_as(base: &str, from: &str, body: &str, sign: bool, sid: Option<&str>) -> crate::support::HttpResponse {
    let url = "http://127.0.0.1:8080/sms/inbound";
    let mut params = vec![
        ("From".to_string(), from.to_string()),
        ("Body".to_string(), body.to_string()),
        ("To".to_string(), "+15005550006".to_string()),
    ];
    if let Some(sid) = sid {
        params.push(("MessageSid".to_string(), sid.to_string()));
    }
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let sig = if sign {
        nurture::compliance::sms::twilio_signature("test-token", url, &params)
    } else {
        "bm9wZQ==".into()
    };
    http(
        "POST",
        &format!("{base}/sms/inbound"),
        &[("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", &sig)],
        &form,
    )
}

#[test]
fn an_sms_start_lifts_only_an_sms_stop_and_an_unsigned_webhook_is_refused() {
    let env = TestEnv::new("smsstart");
    for (number, reason) in [
        ("+12172010151", "manual"),
        ("+12172010152", "bounce"),
        ("+12172010153", "complaint"),
    ] {
        env.ok(&["suppress", "add", number, "--reason", reason]);
    }
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    for number in ["+12172010151", "+12172010152", "+12172010153"] {
        for word in ["START", "yes", "UNSTOP"] {
            assert_eq!(post_sms(&server.base, number, word, true).status, 200);
        }
    }
    assert_eq!(
        suppressed(&env).len(),
        3,
        "a text lifts no suppression it did not set: {:?}",
        suppressed(&env)
    );
    // What a STOP set, a START from the same number lifts.
    assert_eq!(post_sms(&server.base, "+12172010154", "STOP", true).status, 200);
    assert_eq!(suppressed(&env).len(), 4);
    assert_eq!(post_sms(&server.base, "+12172010154", "START", true).status, 200);
    assert_eq!(suppressed(&env).len(), 3);
    drop(server);
    // Without a token nothing can be verified: refused, unless explicitly allowed for testing.
    env.patch_config("provider = \"twilio\"", "provider = \"file\"");
    env.patch_config("auth_token = \"test-token\"", "auth_token = \"\"");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let r = post_sms(&server.base, "+12172010155", "STOP", false);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("auth_token"), "{}", r.body);
    assert_eq!(suppressed(&env).len(), 3);
    drop(server);
    env.patch_config("auth_token = \"\"", "auth_token = \"\"\nallow_unsigned_inbound = true");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    assert_eq!(post_sms(&server.base, "+12172010155", "STOP", false).status, 200);
    assert_eq!(suppressed(&env).len(), 4);
}

#[test]
fn sms_stop_and_start_through_the_signed_webhook() {
    let env = TestEnv::new("smsstop");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let post = |from: &str, body: &str, sign: bool| post_sms(&server.base, from, body, sign);
    let forged = post("+12172010142", "STOP", false);
    assert_eq!(forged.status, 403);
    assert!(suppressed(&env).is_empty());
    let r = post("+12172010142", "  Stop ", true);
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("<Response></Response>"),
        "no confirmation text of our own: {}",
        r.body
    );
    assert_eq!(post("+966501234567", "توقف", true).status, 200);
    assert_eq!(post("+12172010199", "Thanks, call me tomorrow", true).status, 200);
    let list = suppressed(&env);
    assert_eq!(
        list,
        vec![
            ("sms".into(), "+12172010142".into(), "stop".into()),
            ("sms".into(), "+966501234567".into(), "stop".into())
        ]
    );
    assert_eq!(post("+12172010142", "unstop", true).status, 200);
    assert_eq!(suppressed(&env).len(), 1);
    let m = http("GET", &format!("{}/metrics", server.base), &[], "").body;
    assert!(
        m.contains("nurture_sms_stop_total 2")
            && m.contains("nurture_sms_start_total 1")
            && m.contains("nurture_sms_bad_signature_total 1"),
        "{m}"
    );
    // A stopped number gets nothing even if its job was queued before.
    env.import(
        "phone,plan,sms_consent\n+966501234567,12-direct,yes\n",
        &["--enrolled-on", "2026-10-21"],
    );
    let s = env.json(&["run", "--now", NOW]);
    assert_eq!(s["suppressed"], 1, "{s}");
    assert!(env.twilio().requests().is_empty());
}

#[test]
fn quiet_hours_defer_sms_to_the_next_open_slot_exactly_once() {
    let env = TestEnv::new("quiet");
    env.import(
        "phone,timezone,plan,sms_consent\n+12172010142,America/Chicago,12-direct,2026-10-01\n",
        &["--enrolled-on", "2026-10-21"],
    );
    // 22:30 in Chicago: inside quiet hours (21:00-08:00).
    let s = env.json(&["run", "--now", "2026-11-21T04:30:00Z", "--date", DATE]);
    assert_eq!(s["quiet_deferred"], 1, "{s}");
    assert_eq!(s["deferred"], 1, "still scheduled when the run ends: {s}");
    assert!(env.twilio().requests().is_empty(), "nothing sent at night");
    // The job waits for 08:00 Chicago (9.5 h after the run's clock, plus a spread of < 5 min):
    // the queue's schedule is on the run's clock (`--now`).
    let scores = env.scheduled_jobs();
    let run_now = 1_795_235_400.0; // 2026-11-21T04:30:00Z
    let wait = scores[0].1 - run_now;
    assert!((9.5 * 3600.0 - 10.0..9.5 * 3600.0 + 310.0).contains(&wait), "deferred by {wait} s");
    // A run at 08:05 Chicago finds it due.
    let s = env.json(&["run", "--now", "2026-11-21T14:05:00Z", "--date", DATE]);
    assert_eq!(s["sent"], 1, "{s}");
    let again = env.json(&["run", "--now", "2026-11-21T14:10:00Z", "--date", DATE]);
    assert_eq!(again["sent"], 0);
    assert_eq!(env.twilio().requests().len(), 1, "exactly once");
}

/// Real browser: open the link of a delivered email in headless Chromium, click the button,
/// read the confirmation; a later run sends that address nothing.
#[test]
fn browser_unsubscribe_flow() {
    let Some(driver) = crate::support::browser::Driver::start() else {
        panic!("chromium and chromedriver are required (Debian: apt-get install chromium chromium-driver)");
    };
    let env = TestEnv::new("browser");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    env.patch_config("http://127.0.0.1:8080", &server.base);
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    env.json(&["run", "--now", NOW]);
    let m = env
        .sink()
        .messages()
        .into_iter()
        .find(|m| m.contains("<olivia.bennett@example.com>"))
        .unwrap();
    let link = header(&m, "List-Unsubscribe")
        .unwrap()
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    assert!(link.starts_with(&server.base));
    let session = driver.session();
    session.goto(&link);
    assert!(session.text("body").contains("Stop receiving emails"));
    session.click("#unsubscribe");
    std::thread::sleep(Duration::from_millis(300));
    let done = session.text("#done");
    assert_eq!(done, "You are unsubscribed");
    session.screenshot("unsubscribed");
    assert_eq!(
        suppressed(&env),
        vec![("email".into(), "olivia.bennett@example.com".into(), "unsubscribe".into())]
    );
    let s = env.json(&["run", "--date", "2026-11-27", "--now", "2026-11-27T18:00:00Z"]);
    assert_eq!(s["suppressed"], 1, "{s}");
    assert!(
        !env.sink()
            .messages()
            .iter()
            .filter(|m| m.contains("market-stats") || header(m, "Subject").is_some_and(|s| s.contains("really sold")))
            .any(|m| m.contains("<olivia.bennett@example.com>"))
    );
}

#[test]
fn suppression_import_export_and_contact_export_mark_opt_outs() {
    let env = TestEnv::new("supio");
    env.write(
        "list.csv",
        "email,reason\n  OLIVIA.Bennett@example.com ,complaint\nnot-an-address,\n+1 (217) 201-0199,\n",
    );
    let out = env.nurture(&["suppress", "import", "list.csv"]);
    assert_eq!(out.status.code(), Some(2), "one bad line");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("list.csv:3:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = env.ok(&["suppress", "export"]);
    assert!(csv.starts_with("channel,value,reason,at\n"));
    assert!(
        csv.contains("email,olivia.bennett@example.com,complaint,") && csv.contains("sms,+12172010199,import,"),
        "{csv}"
    );
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let export = env.ok(&["export"]);
    let olivia = export.lines().find(|l| l.contains("olivia.bennett@example.com")).unwrap();
    assert!(olivia.ends_with(",yes,"), "{olivia}");
    let grace = export.lines().find(|l| l.contains("grace@example.com")).unwrap();
    assert!(grace.ends_with(",,"), "{grace}");
    assert!(export.lines().next().unwrap().ends_with("suppressed_email,suppressed_sms"));
}

#[test]
fn exported_cells_a_spreadsheet_would_run_are_neutralized_and_import_back_unchanged() {
    let env = TestEnv::new("formula");
    let csv = "first_name,last_name,email,phone,plan\n\"=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",@SUM(A1),ann@example.com,+12172010160,8x8\n";
    env.import(csv, &["--enrolled-on", DATE]);
    let export = env.ok(&["export"]);
    let mut rows = csv::Reader::from_reader(export.as_bytes());
    let head = rows.headers().unwrap().clone();
    let row = rows.records().next().unwrap().unwrap();
    let cell = |name: &str| row.get(head.iter().position(|h| h == name).unwrap()).unwrap().to_string();
    assert_eq!(cell("first_name"), "'=HYPERLINK(\"http://evil.example\",\"click\")");
    assert_eq!(cell("last_name"), "'@SUM(A1)");
    assert_eq!(cell("phone"), "+12172010160", "a phone number stays a number");
    // The exported file imports back without changing anyone.
    env.write("export.csv", &export);
    let again = env.json(&["import", "export.csv"]);
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    let shown = env.json(&["contact", "show", "ann@example.com"]);
    assert_eq!(
        shown["contact"]["fields"]["first_name"], "=HYPERLINK(\"http://evil.example\",\"click\")",
        "{shown}"
    );
}

#[test]
fn forget_erases_exactly_one_person_never_a_namesake() {
    let env = TestEnv::new("forgetexact");
    // Welcome emails are due on the enrollment day for all six.
    env.import(
        "id,first_name,email,plan\nann@example.com,Ann,ann@example.com,8x8\njoann@example.com,Joann,joann@example.com,8x8\n\
1,One,one@example.com,8x8\n11,Eleven,eleven@example.com,8x8\na,A,a@example.com,8x8\na|b,AB,ab@example.com,8x8\n",
        &["--enrolled-on", DATE],
    );
    env.json(&["run", "--date", DATE, "--now", NOW, "--enqueue-only"]);
    for who in ["ann@example.com", "1", "a"] {
        let out = env.json(&["forget", who]);
        assert_eq!(out["erased"]["contacts"], 1, "{who}: {out}");
        assert_eq!(out["erased"]["jobs"], 1, "{who}: only their own welcome email: {out}");
        assert_eq!(out["erased"]["agenda_items"], 1, "{who}: only their own welcome note: {out}");
    }
    // The namesakes keep everything: their records, and tonight's emails go out to them.
    for kept in ["joann@example.com", "11", "a|b"] {
        env.ok(&["contact", "show", kept]);
    }
    let s = env.json(&["run", "--date", DATE, "--now", NOW]);
    assert_eq!(s["sent"], 3, "{s}");
    let mut to: Vec<String> = env.sink().messages().iter().map(|m| header(m, "To").unwrap()).collect();
    to.sort();
    assert_eq!(
        to.iter()
            .map(|t| t.rsplit('<').next().unwrap().trim_end_matches('>').to_string())
            .collect::<Vec<_>>(),
        ["ab@example.com", "eleven@example.com", "joann@example.com"],
        "{to:?}"
    );
    let agenda: serde_json::Value = serde_json::from_str(&env.ok(&["agenda", "--date", DATE, "--format", "json"])).unwrap();
    assert_eq!(agenda.as_array().map(Vec::len), Some(3), "{agenda}");
}

#[test]
fn a_dead_unsubscribe_link_stops_lint_and_run_before_anything_is_sent() {
    let env = TestEnv::new("deadlink");
    // Real SMTP (smtp-sink) and the default-style base_url on loopback.
    env.patch_config("allow_local_base_url = true", "allow_local_base_url = false");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let toml = std::fs::read_to_string(env.path().join("nurture.toml")).unwrap();
    let line = toml.lines().position(|l| l == "base_url = \"http://127.0.0.1:8080\"").unwrap() + 1;
    let at = format!("nurture.toml:{line}:12: error: [unsubscribe] base_url");
    let lint = env.nurture(&["lint"]);
    assert_eq!(lint.status.code(), Some(1));
    let text = format!("{}{}", String::from_utf8_lossy(&lint.stdout), String::from_utf8_lossy(&lint.stderr));
    assert!(text.contains(&at) && text.contains("not HTTPS"), "{text}");
    let run = env.nurture(&["run", "--date", DATE, "--now", NOW]);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains(&at),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(env.sink().count(), 0, "nothing sent with a link nobody can open");
    // The public HTTPS address of `serve`: the run goes ahead.
    env.patch_config("base_url = \"http://127.0.0.1:8080\"", "base_url = \"https://nurture.example.com\"");
    let s = env.json(&["run", "--date", DATE, "--now", NOW]);
    assert!(s["sent"].as_u64().unwrap() > 0, "{s}");
    let m = env.sink().messages();
    assert!(
        m.iter().all(|m| m.contains("https://nurture.example.com/u/")),
        "the link is the configured base"
    );
}

#[test]
fn forget_erases_a_person_and_keeps_only_keyed_hashes() {
    let env = TestEnv::new("forget");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    // Queue (not send) so there are pending jobs and agenda items to erase.
    env.json(&["run", "--date", DATE, "--enqueue-only"]);
    env.ok(&["suppress", "add", "olivia.bennett@example.com"]);
    let out = env.json(&["forget", "Olivia.Bennett@example.com"]);
    assert_eq!(out["erased"]["contacts"], 1, "{out}");
    assert_eq!(out["erased"]["jobs"], 1, "{out}");
    assert_eq!(out["erased"]["agenda_items"], 1, "{out}");
    assert_eq!(out["hashes_kept"], 2, "email and phone");
    // Nothing in Redis mentions her any more.
    for (key, dump) in env.dump() {
        assert!(
            !key.contains("olivia") && !dump.contains("olivia") && !dump.contains("2172010142") && !dump.contains("Bennett"),
            "{key} still mentions her"
        );
        if key.ends_with(":forgotten") {
            assert!(
                dump.split(' ').all(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())),
                "{dump}"
            );
        }
    }
    // The rest of the queue still goes out; she gets nothing.
    let s = env.json(&["run", "--date", DATE, "--now", NOW]);
    assert_eq!(s["sent"], 2, "{s}");
    assert!(!env.sink().messages().iter().any(|m| m.contains("olivia")));
    // Importing her again (any case) is refused.
    let r = env.import(
        "email,first_name,plan\nOLIVIA.BENNETT@example.com,Olivia,8x8\nnew@example.com,New,8x8\n",
        &[],
    );
    assert_eq!(r["created"], 1, "{r}");
    assert!(
        r["rejected"][0]["reason"].as_str().unwrap().contains("asked to be forgotten"),
        "{r}"
    );
    assert_eq!(r["rejected"][0]["line"], 2, "{r}");
}

/// Runs openssl with `args`; its standard output.
fn openssl(args: &[&str], input: Option<&std::path::Path>) -> Vec<u8> {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(args);
    if let Some(path) = input {
        cmd.arg(path);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn dkim_signature_covers_list_unsubscribe_and_verifies_independently() {
    let env = TestEnv::new("dkim");
    let b64 = |bytes: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    let pem = env.path().join("dkim.pem");
    // An RSA-2048 key (PKCS#1 PEM) and an Ed25519 one (its 32-byte seed, base64): each signs a
    // run, dkimpy checks every message against the public key as DNS would give it.
    let rsa = {
        openssl(&["genrsa", "-traditional", "-out", pem.to_str().unwrap(), "2048"], None);
        let public = b64(&openssl(&["rsa", "-pubout", "-outform", "DER", "-in"], Some(&pem)));
        (std::fs::read_to_string(&pem).unwrap(), public)
    };
    let ed25519 = {
        openssl(&["genpkey", "-algorithm", "ed25519", "-out", pem.to_str().unwrap()], None);
        let private = openssl(&["pkey", "-outform", "DER", "-in"], Some(&pem));
        let public = openssl(&["pkey", "-pubout", "-outform", "DER", "-in"], Some(&pem));
        (b64(&private[private.len() - 32..]), b64(&public[public.len() - 32..]))
    };
    // Each alone, then both on every message (RFC 8463's dual signing); the Ed25519 key of the
    // dual run as openssl writes it (PKCS#8 PEM).
    let ed25519_pem = {
        openssl(&["genpkey", "-algorithm", "ed25519", "-out", pem.to_str().unwrap()], None);
        let public = openssl(&["pkey", "-pubout", "-outform", "DER", "-in"], Some(&pem));
        (std::fs::read_to_string(&pem).unwrap(), b64(&public[public.len() - 32..]))
    };
    let dual = "algorithm = \"rsa\"\ned25519_selector = \"e1\"\ned25519_key_file = \"ed25519.pem\"\n".to_string();
    let runs = [
        (
            "rsa",
            rsa.0.clone(),
            "algorithm = \"rsa\"\n".to_string(),
            vec![format!("s1=rsa:{}", rsa.1)],
        ),
        (
            "ed25519",
            ed25519.0,
            "algorithm = \"ed25519\"\n".to_string(),
            vec![format!("s1=ed25519:{}", ed25519.1)],
        ),
        (
            "dual",
            rsa.0,
            dual,
            vec![format!("s1=rsa:{}", rsa.1), format!("e1=ed25519:{}", ed25519_pem.1)],
        ),
    ];
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/dkim_verify.py");
    for (name, key, settings, publics) in runs {
        let env = TestEnv::new(&format!("dkim-{name}"));
        env.write("dkim.pem", &key);
        env.write("ed25519.pem", &ed25519_pem.0);
        let cfg = std::fs::read_to_string(env.path().join("nurture.toml")).unwrap();
        env.write(
            "nurture.toml",
            &format!("{cfg}\n[dkim]\ndomain = \"example.com\"\nselector = \"s1\"\nprivate_key_file = \"dkim.pem\"\n{settings}"),
        );
        env.import(CONTACTS, &["--enrolled-on", DATE]);
        assert_eq!(env.json(&["run", "--now", NOW])["sent"], 3, "{name}");
        let dumps = std::fs::read_dir(env.path().join("sink"))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect::<Vec<_>>();
        assert_eq!(dumps.len(), 3, "{name}");
        for file in dumps {
            let raw = std::fs::read_to_string(&file).unwrap();
            let sig = header(&raw, "DKIM-Signature").expect("signed");
            let signed = sig
                .split(';')
                .find_map(|p| p.trim().strip_prefix("h="))
                .unwrap()
                .to_ascii_lowercase();
            assert!(
                signed.contains("list-unsubscribe") && signed.contains("list-unsubscribe-post"),
                "{sig}"
            );
            assert!(sig.contains("d=example.com") && sig.contains("s=s1"), "{sig}");
            let first = if name == "ed25519" { "ed25519" } else { "rsa" };
            assert!(sig.contains(&format!("a={first}-sha256")), "{sig}");
            let v = std::process::Command::new("python3")
                .arg(&script)
                .arg(&file)
                .args(&publics)
                .output()
                .unwrap();
            assert!(
                v.status.success(),
                "dkimpy ({name}): {}{}",
                String::from_utf8_lossy(&v.stdout),
                String::from_utf8_lossy(&v.stderr)
            );
        }
    }
    // A bad key file is a clear error before anything is sent.
    env.write("dkim.pem", "not a key");
    let cfg = std::fs::read_to_string(env.path().join("nurture.toml")).unwrap();
    env.write(
        "nurture.toml",
        &format!("{cfg}\n[dkim]\ndomain = \"example.com\"\nselector = \"s1\"\nprivate_key_file = \"dkim.pem\"\n"),
    );
    let out = env.nurture(&["run", "--date", "2026-11-27"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[dkim] private_key_file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first `/u/…` path in `text` (the link of `http://127.0.0.1:8080`).
fn first_link(text: &str) -> String {
    let at = text.find("http://127.0.0.1:8080/u/").expect("an unsubscribe link");
    let rest = &text[at + "http://127.0.0.1:8080".len()..];
    rest.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect()
}

#[test]
fn a_test_send_or_a_preview_link_unsubscribes_nobody() {
    let env = TestEnv::new("testlink");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    env.ok(&[
        "send-test",
        "8x8/free-report",
        "--to",
        "me@agency.example",
        "--contact",
        "olivia.bennett@example.com",
    ]);
    let test_mail = env.sink().messages().remove(0);
    let from_header = unsubscribe_path(&test_mail);
    let preview = env.ok(&[
        "preview",
        "8x8/free-report",
        "--contact",
        "olivia.bennett@example.com",
        "--format",
        "text",
    ]);
    let from_preview = first_link(&preview);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    for link in [&from_header, &from_preview] {
        let page = http("GET", &format!("{}{link}", server.base), &[], "");
        assert_eq!(page.status, 200);
        assert!(
            page.body.contains("This was a test message") && page.body.contains("Nobody was unsubscribed"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("olivia"), "{}", page.body);
        let one_click = http(
            "POST",
            &format!("{}{link}", server.base),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            "List-Unsubscribe=One-Click",
        );
        assert_eq!(one_click.status, 200);
        let button = http("POST", &format!("{}{link}", server.base), &[("Accept", "text/html")], "");
        assert!(button.body.contains("Nobody was unsubscribed"), "{}", button.body);
    }
    assert!(suppressed(&env).is_empty(), "{:?}", suppressed(&env));
    let history = env.ok(&["contact", "show", "olivia.bennett@example.com"]);
    assert!(!history.contains("unsubscribed"), "{history}");
    // A link made before 0.6 names no address: the page masks her current one.
    let old = nurture::compliance::token::sign_v1("test-secret", "olivia.bennett@example.com");
    let page = http("GET", &format!("{}/u/{old}", server.base), &[], "");
    assert!(
        page.body.contains("o***@example.com") && !page.body.contains("olivia.bennett"),
        "{}",
        page.body
    );
    // Her real link still works.
    assert_eq!(env.json(&["run", "--now", NOW])["sent"], 3);
    let real = link_for(&env, "olivia.bennett@example.com");
    assert_ne!(real, from_header);
    http("POST", &format!("{}{real}", server.base), &[], "List-Unsubscribe=One-Click");
    assert_eq!(suppressed(&env).len(), 1);
}

#[test]
fn a_replayed_sms_webhook_is_acted_on_once() {
    let env = TestEnv::new("smsreplay");
    env.import("first_name,phone,sms_consent\nRay,+12175550161,2026-10-01\n", &[]);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let sms_suppressed = || env.json(&["status"])["suppressed"]["sms"].as_u64().unwrap();
    assert_eq!(
        post_sms_as(&server.base, "+12175550161", "START", true, Some("SM-start-1")).status,
        200
    );
    assert_eq!(
        post_sms_as(&server.base, "+12175550161", "STOP", true, Some("SM-stop-2")).status,
        200
    );
    assert_eq!(sms_suppressed(), 1);
    // Someone replays the earlier START, signature and all: it lifts nothing.
    let replay = post_sms_as(&server.base, "+12175550161", "START", true, Some("SM-start-1"));
    assert_eq!(replay.status, 200);
    assert_eq!(sms_suppressed(), 1, "a replayed START does not lift a later STOP");
    let history = env.json(&["contact", "show", "+12175550161"])["history"].clone();
    let responses = history.as_array().unwrap().iter().filter(|e| e["event"] == "response").count();
    assert_eq!(responses, 1, "the START counted once: {history}");
}

#[test]
fn sms_consent_columns_are_read_and_a_missing_consent_is_never_a_silent_zero() {
    let env = TestEnv::new("consentcols");
    let csv = "First Name,Mobile Phone,SMS OK\nAda,+12175550171,yes\nBo,+12175550172,no\nCy,+12175550173,✓\n\
               Di,+12175550174,2026-03-01 open house\nEd,+12175550175,\n";
    env.write("texters.csv", csv);
    let out = env.nurture(&["import", "texters.csv", "--plan", "8x8", "--enrolled-on", "2026-11-03"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("2 row(s) have a phone but no SMS consent"), "{said}");
    let consent = |phone: &str| env.json(&["contact", "show", phone])["contact"]["fields"]["sms_consent"].clone();
    let today = nurture::clock::Clock::System.today(chrono_tz::America::Chicago);
    assert_eq!(consent("+12175550171"), format!("{today} import texters.csv"));
    assert!(consent("+12175550172").is_null());
    assert_eq!(consent("+12175550173"), format!("{today} import texters.csv"));
    assert_eq!(consent("+12175550174"), "2026-03-01 open house");
    assert!(consent("+12175550175").is_null());
    // lint says it before the night, on a text message, with what to do.
    let lint = env.json(&["lint"]);
    let said = lint
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap_or("").contains("no SMS consent"))
        .unwrap_or_else(|| panic!("{lint}"))
        .clone();
    assert!(
        said["message"].as_str().unwrap().starts_with("2 of 5 contact(s) with a phone"),
        "{said}"
    );
    assert!(said["file"].as_str().unwrap().ends_with(".sms.hbs"), "{said}");
    assert!(said["help"].as_str().unwrap().contains("SMS OK"), "{said}");
    // The night: three texts go out, and the run says why two did not.
    let out = env.nurture(&["run", "--now", NOW]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("2 text(s) not sent: their contact has no SMS consent"), "{said}");
    assert_eq!(env.twilio().requests().iter().filter(|r| r["status"] == 201).count(), 3);
    // The preview of such a contact's text says so.
    let out = env.nurture(&["preview", "8x8/checkin", "--contact", "+12175550172"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nurture would not send this text"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
