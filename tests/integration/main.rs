//! End-to-end tests: the real `nurture` binary against a real Redis, a real SMTP server
//! (postfix's `smtp-sink`) and a local HTTP server standing in for Twilio.

mod agents_day;
mod compliance;
mod deploy;
mod erasure;
mod exposure;
mod faults;
mod inbound;
mod leads;
mod lifecycle;
mod marketers;
mod phones;
mod pipeline;
mod redis_setups;
mod reports;
mod spreadsheets;
mod support;
mod webhooks;
mod windows;

use mail_parser::MessageParser;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use support::{TestEnv, header};

pub(crate) const DATE: &str = "2026-11-20";
/// Noon in Chicago on DATE: inside every contact's SMS window.
pub(crate) const NOW: &str = "2026-11-20T18:00:00Z";

pub(crate) fn parse(raw: &str) -> mail_parser::Message<'_> {
    MessageParser::default().parse(raw.as_bytes()).expect("a parsable message")
}

fn message_ids(env: &TestEnv) -> Vec<String> {
    env.sink().messages().iter().filter_map(|m| header(m, "Message-ID")).collect()
}

pub(crate) const CONTACTS: &str = "first_name,last_name,email,phone,locale,plan,pet,sms_consent\n\
Olivia,Bennett,Olivia.Bennett@Example.com,(217) 201-0142,en,8x8,cat,2026-10-01 web form\n\
أحمد,العلي,ahmed@example.com,+966 50 123 4567,ar,8x8,,2026-10-02 open house\n\
Grace,Kim,grace@example.com,,en,8x8,,\n";

#[test]
fn run_delivers_email_and_sms_once_with_compliance_headers() {
    let env = TestEnv::new("e2e");
    let report = env.import(CONTACTS, &["--enrolled-on", "2026-11-03"]);
    assert_eq!(report["created"], 3, "{report}");
    // enrolled 17 days before DATE: the w3-checkin SMS (17d) is due; 2w email fell due 3 days ago (grace).
    let s = env.json(&["run", "--now", NOW]);
    assert_eq!(s["date"], DATE);
    for k in ["due", "queued", "sent", "suppressed", "deferred", "failed", "dead", "agenda"] {
        assert!(s.get(k).is_some(), "run --json lacks {k}: {s}");
    }
    assert_eq!(s["queued"], 5, "3 emails (w3-neighborhood) + 2 SMS (w3-checkin): {s}");
    assert_eq!(s["sent"], 5, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["skipped"], 1, "Grace has no phone: {s}");
    let messages = env.sink().messages();
    assert_eq!(messages.len(), 3);
    for raw in &messages {
        let unsub = header(raw, "List-Unsubscribe").expect("List-Unsubscribe");
        assert!(unsub.starts_with("<http://127.0.0.1:8080/u/"), "{unsub}");
        assert_eq!(header(raw, "List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
        let m = parse(raw);
        let html = m.body_html(0).expect("html part").to_string();
        let text = m.body_text(0).expect("text part").to_string();
        let url = unsub.trim_matches(|c| c == '<' || c == '>');
        assert!(html.contains(url) && text.contains(url), "the link is in both parts");
        assert!(html.contains("12 Main St, Springfield, IL 62701"), "postal address in HTML");
    }
    // Arabic: decoded subject, RTL HTML, display name survives.
    let arabic = messages
        .iter()
        .map(|r| parse(r))
        .find(|m| m.to().and_then(|t| t.first()).and_then(|a| a.address()) == Some("ahmed@example.com"))
        .unwrap();
    assert_eq!(arabic.subject(), Some("حيّك بالأرقام"));
    assert_eq!(arabic.to().unwrap().first().unwrap().name(), Some("أحمد العلي"));
    let html = arabic.body_html(0).unwrap();
    assert!(html.contains("dir=\"rtl\"") && html.contains("lang=\"ar\"") && html.contains("أحمد"));
    let olivia = messages
        .iter()
        .map(|r| parse(r))
        .find(|m| m.to().unwrap().first().unwrap().address() == Some("olivia.bennett@example.com"))
        .unwrap();
    assert_eq!(olivia.subject(), Some("Your neighbourhood in numbers"));
    assert!(olivia.body_html(0).unwrap().contains("Dear Olivia,"));
    // SMS went through the provider's API, Arabic intact, basic auth with the account SID.
    let sms = env.twilio().requests();
    assert_eq!(sms.len(), 2, "{sms:?}");
    assert!(
        sms.iter()
            .all(|r| r["path"] == "/2010-04-01/Accounts/ACtest/Messages.json" && r["user"] == "ACtest")
    );
    let ar = sms
        .iter()
        .find(|r| r["form"]["To"] == "+966501234567")
        .expect("SMS to the E.164 number");
    assert!(
        ar["form"]["Body"].as_str().unwrap().starts_with("مرحباً أحمد، معك Sara Haddad"),
        "{ar}"
    );
    assert_eq!(ar["form"]["From"], "+15005550006");
    // The same date again: nothing new is queued or sent.
    let again = env.json(&["run", "--date", DATE]);
    assert_eq!(again["queued"], 0, "{again}");
    assert_eq!(again["sent"], 0, "{again}");
    assert_eq!(env.sink().messages().len(), 3);
    assert_eq!(env.twilio().requests().len(), 2);
    // The agenda of the first run is kept (the 8x8 note card fell due on enrollment: missed, not on it).
    let status = env.json(&["status"]);
    assert_eq!(status["contacts"], 3);
    assert_eq!(status["last_run"], DATE);
}

#[test]
fn run_refuses_everything_when_lint_fails() {
    let env = TestEnv::new("lintfail");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    env.write(
        "templates/8x8/welcome.email.hbs",
        "subject: Hi\n---\n<p>Hi {{contact.first_name}</p>\n",
    );
    let out = env.nurture(&["run", "--date", DATE]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("templates/8x8/welcome.email.hbs:3:"), "{err}");
    assert_eq!(err.matches("error:").count(), 2, "one diagnostic and the summary: {err}");
    let lint = env.nurture(&["lint"]);
    assert_eq!(lint.status.code(), Some(1));
    let status = env.json(&["status"]);
    assert_eq!(status["queue"]["waiting"], 0);
    assert_eq!(status["queue"]["scheduled"], 0);
    assert!(status["last_run"].is_null());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(env.sink().count(), 0);
}

#[test]
fn suppression_added_after_queueing_stops_the_send() {
    let env = TestEnv::new("suppress");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let q = env.json(&["run", "--date", DATE, "--enqueue-only"]);
    assert_eq!(q["queued"], 3, "three welcome emails: {q}");
    assert_eq!(q["sent"], 0);
    env.ok(&["suppress", "add", "  GRACE@example.com ", "--reason", "asked by phone"]);
    // `work` delivers what is queued; stop it with SIGTERM once the queue is empty.
    let mut worker = env.command(&["work"]).spawn().unwrap();
    assert_eq!(env.sink().wait_for(2, Duration::from_secs(20)), 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = env.json(&["status"]);
        if s["queue"]["waiting"] == 0 && s["queue"]["in_flight"] == 0 && s["last_run_deliveries"]["suppressed"] == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "queue did not drain: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
    unsafe_sigterm(&worker);
    let status = worker.wait().unwrap();
    assert!(status.success(), "work exits 0 on SIGTERM");
    let to: BTreeSet<String> = env.sink().messages().iter().filter_map(|m| header(m, "X-Rcpt-Args")).collect();
    assert_eq!(
        to,
        ["<ahmed@example.com>", "<olivia.bennett@example.com>"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    // Re-importing (any case) does not make the address mailable again.
    env.import("email,plan\ngrace@EXAMPLE.com,8x8\n", &[]);
    let list = env.ok(&["suppress", "list"]);
    assert!(list.contains("grace@example.com") && list.contains("asked by phone"), "{list}");
}

pub(crate) fn unsafe_sigterm(child: &std::process::Child) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn smtp_5xx_is_permanent_recorded_and_suppressed() {
    let env = TestEnv::with_sink("bounce", &["-f", "RCPT"]);
    env.import("email,plan\na@example.com,8x8\nb@example.com,8x8\n", &["--enrolled-on", DATE]);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!(s["failed"], 2, "{s}");
    assert_eq!(s["sent"], 0);
    assert_eq!(s["dead"], 0, "permanent failures are not retried: {s}");
    let list = env.json(&["suppress", "list"]);
    let bounced: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reason"] == "bounce")
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(bounced, vec!["a@example.com", "b@example.com"]);
    let status = env.json(&["status"]);
    assert_eq!(status["recent_failures"].as_array().unwrap().len(), 2, "{status}");
}

#[test]
fn smtp_4xx_is_retried_with_backoff_then_dead_letter() {
    let env = TestEnv::with_sink("tempfail", &["-r", "RCPT"]);
    env.write_config("max_attempts = 3\nretry_base_secs = 1\nheartbeat_secs = 1\nclaim_ttl_secs = 5\ndrain_wait_secs = 10");
    env.import("email,plan\na@example.com,8x8\n", &["--enrolled-on", DATE]);
    let started = std::time::Instant::now();
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!(s["dead"], 1, "{s}");
    assert_eq!(s["failed"], 0);
    assert!(started.elapsed() >= Duration::from_secs(2), "two backoffs of >= 1 s");
    let status = env.json(&["status"]);
    let dead = status["dead_letters"].as_array().unwrap();
    assert_eq!(dead.len(), 1, "{status}");
    assert!(dead[0]["reason"].as_str().unwrap().contains("after 3 attempts"), "{status}");
    assert_eq!(dead[0]["job"]["key"], format!("a@example.com|8x8|w1-welcome|{DATE}"));
    let text = env.ok(&["status"]);
    assert!(
        text.contains("dead letters") && text.contains("a@example.com|8x8|w1-welcome"),
        "{text}"
    );
    // A later run does not resurrect it and the address is not suppressed.
    assert_eq!(env.json(&["suppress", "list"]).as_array().unwrap().len(), 0);
}

#[test]
fn sms_429_is_retried_and_4xx_is_permanent() {
    let env = TestEnv::new("sms");
    // 12-direct sends an SMS in month 2 (day 30).
    env.import(
        "phone,plan,sms_consent\n+12172010429,12-direct,yes\n+12172010400,12-direct,yes\n+12172010111,12-direct,\n",
        &["--enrolled-on", "2026-10-21"],
    );
    let s = env.json(&["run", "--now", NOW]);
    assert_eq!(s["no_consent"], 1, "the third number has no recorded consent: {s}");
    assert_eq!(s["sent"], 1, "{s}");
    assert_eq!(s["failed"], 1, "{s}");
    let reqs = env.twilio().requests();
    let tries = |n: &str| reqs.iter().filter(|r| r["form"]["To"] == n).count();
    assert_eq!(tries("+12172010429"), 3, "two 429s then success");
    assert_eq!(tries("+12172010400"), 1, "4xx is never retried");
    assert_eq!(tries("+12172010111"), 0, "no consent, no SMS");
    let list = env.json(&["suppress", "list"]);
    assert_eq!(list[0]["value"], "+12172010400", "error 21610 suppresses the number: {list}");
    assert_eq!(list[0]["channel"], "sms");
}

#[test]
fn import_reports_bad_rows_keeps_good_ones_and_is_idempotent() {
    let env = TestEnv::new("import");
    let csv = "email,phone,birthday,plan,favourite_colour\n\
ok@example.com,,05-17,8x8,blue\n\
broken@,,,8x8,\n\
x@example.com,,13-45,8x8,\n\
y@example.com,,,nope,\n\
,12,,8x8,\n\
z@example.com,(217) 201-0100,,,green\n";
    let r = env.import(csv, &["--plan", "8x8", "--source", "open-house"]);
    // x@'s impossible birthday is left out with a warning; x@ is imported without it.
    assert_eq!(r["created"], 3, "{r}");
    assert!(
        r["cell_warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("contacts.csv:4: warning: column birthday"),
        "{r}"
    );
    let rejected: Vec<(u64, String)> = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["line"].as_u64().unwrap(), j["column"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rejected, vec![(3, "email".into()), (5, "plan".into()), (6, "phone".into())]);
    let again = env.import(csv, &["--plan", "8x8", "--source", "open-house"]);
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(0), Some(3)),
        "{again}"
    );
    // --dry-run writes nothing.
    let dry = env.import("email\nnew@example.com\n", &["--dry-run"]);
    assert_eq!(dry["created"], 1);
    assert_eq!(env.json(&["status"])["contacts"], 3);
    // Custom fields reach templates.
    env.write("templates/8x8/welcome.email.hbs", "subject: Hi\n---\n{{#> layouts/email}}<p>Your colour: {{contact.favourite_colour}} from {{contact.source}}</p>{{/layouts/email}}\n");
    let out = env.ok(&["preview", "8x8/welcome", "--contact", "z@example.com"]);
    assert!(out.contains("Your colour: green from open-house"), "{out}");
}

#[test]
fn old_enrollment_is_not_flooded_and_counts_missed() {
    let env = TestEnv::new("grace");
    env.import("email,plan\nold@example.com,12-direct\n", &["--enrolled-on", "2025-06-01"]);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!(s["queued"], 0, "{s}");
    assert!(s["missed"].as_u64().unwrap() >= 10, "{s}");
    assert_eq!(env.sink().count(), 0);
}

#[test]
fn dry_run_sends_and_writes_nothing() {
    let env = TestEnv::new("dry");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let s = env.json(&["run", "--date", DATE, "--dry-run"]);
    assert_eq!(s["queued"], 3);
    assert_eq!(s["would_queue"].as_array().unwrap().len(), 3);
    let status = env.json(&["status"]);
    assert!(status["last_run"].is_null());
    assert_eq!(status["queue"]["waiting"], 0);
    assert_eq!(env.sink().count(), 0);
}

#[test]
fn two_processes_racing_send_each_message_once() {
    let env = TestEnv::new("race");
    let mut csv = String::from("email,plan\n");
    for i in 0..600 {
        csv.push_str(&format!("r{i}@example.com,8x8\n"));
    }
    env.import(&csv, &["--enrolled-on", DATE]);
    let quiet = |args: &[&str]| env.command(args).stdout(std::process::Stdio::null()).spawn().unwrap();
    let a = quiet(&["run", "--date", DATE, "--json"]);
    let b = quiet(&["run", "--date", DATE, "--json"]);
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    let ids = message_ids(&env);
    let mut counts: HashMap<&String, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(id).or_default() += 1;
    }
    assert_eq!(counts.len(), 600);
    assert!(counts.values().all(|c| *c == 1), "a message was sent twice");
}

#[test]
fn sigkill_mid_run_loses_nothing() {
    let env = TestEnv::new("kill");
    env.write_config(
        "max_attempts = 5\nretry_base_secs = 1\nheartbeat_secs = 1\nclaim_ttl_secs = 3\ndrain_wait_secs = 10\nconcurrency = 16",
    );
    let n = 3000;
    let mut csv = String::from("email,first_name,plan\n");
    for i in 0..n {
        csv.push_str(&format!("k{i}@example.com,Kim{i},8x8\n"));
    }
    env.import(&csv, &["--enrolled-on", DATE]);
    let mut first = env.command(&["run", "--date", DATE]).spawn().unwrap();
    let seen = env.sink().wait_for(800, Duration::from_secs(120));
    assert!(seen >= 800, "the first run should have sent some mail");
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before = env.sink().count();
    assert!(before < n, "killed before the end ({before} of {n})");
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!(s["dead"], 0, "{s}");
    std::thread::sleep(Duration::from_millis(300));
    let ids = message_ids(&env);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), n, "every message arrived after the restart");
    assert!(
        ids.len() - n <= 16,
        "only messages in flight at the kill may repeat: {} extra",
        ids.len() - n
    );
    eprintln!(
        "kill test: {before} before the kill, {} after restart, {} repeated",
        ids.len() - before,
        ids.len() - n
    );
}

#[test]
fn a_worker_in_two_lanes_killed_and_restarted_sends_each_message_once_and_stops_on_sigterm() {
    let env = TestEnv::new("lanes");
    env.write_config("heartbeat_secs = 1\nclaim_ttl_secs = 3\nconcurrency = 16\nthreads = 2");
    let n = 2000;
    let mut csv = String::from("email,first_name,plan\n");
    for i in 0..n {
        csv.push_str(&format!("l{i}@example.com,Lee{i},8x8\n"));
    }
    env.import(&csv, &["--enrolled-on", DATE]);
    env.ok(&["run", "--date", DATE, "--enqueue-only"]);
    let mut first = env.command(&["work"]).spawn().unwrap();
    let seen = env.sink().wait_for(400, Duration::from_secs(120));
    assert!(seen >= 400, "the lanes should have sent some mail");
    // Both lanes took jobs: each registered its own worker.
    let mut r = env.redis();
    let workers: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*workers:metadata:*", env.prefix))
        .query(&mut r)
        .unwrap();
    assert!(
        workers.iter().any(|w| w.ends_with("-l0")) && workers.iter().any(|w| w.ends_with("-l1")),
        "{workers:?}"
    );
    first.kill().unwrap(); // SIGKILL: both lanes die mid-send
    first.wait().unwrap();
    let before = env.sink().count();
    assert!(before < n, "killed before the end ({before} of {n})");
    // A new worker finishes the queue: the killed one's jobs come back after its heartbeats.
    let mut second = env.command(&["work"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while message_ids(&env).iter().collect::<BTreeSet<_>>().len() < n {
        assert!(std::time::Instant::now() < deadline, "only {} of {n} arrived", env.sink().count());
        assert!(second.try_wait().unwrap().is_none(), "the worker died");
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status();
    assert!(second.wait().unwrap().success(), "SIGTERM ends the lanes with 0");
    let ids = message_ids(&env);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), n);
    assert!(
        ids.len() - n <= 16,
        "only messages in flight at the kill may repeat: {} extra",
        ids.len() - n
    );
    eprintln!("lanes kill test: {before} before the kill, {} repeated", ids.len() - n);
}

#[test]
fn config_errors_name_the_key_and_secrets_stay_hidden() {
    let env = TestEnv::new("config");
    env.write("bad.toml", "[smtp]\npoolsize = 3\n");
    let out = env.nurture(&["--config", "bad.toml", "lint"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("poolsize"), "{err}");
    let out = env.command(&["status"]).env("NURTURE_SMTP_POOL_SIZE", "many").output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pool_size"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env
        .command(&["run", "--date", DATE, "--json"])
        .env("NURTURE_REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success());
    assert!(!all.contains("hunter2") && !all.contains("test-secret"), "{all}");
}

#[test]
fn shipped_plans_and_templates_pass_lint() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nurture"))
        .arg("lint")
        .current_dir(root)
        .env_remove("NURTURE_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("error:"), "{text}");
}

#[test]
fn lint_enforces_compliance_rules() {
    let env = TestEnv::new("lintrules");
    env.write("templates/8x8/checkin.sms.hbs", "Hi {{sender.name}} here!\n");
    env.write(
        "templates/8x8/home-tip.email.hbs",
        "subject: RE: your question\n---\n{{#> layouts/email}}<p>Tip</p>{{/layouts/email}}\n",
    );
    env.write(
        "templates/8x8/market-stats.email.hbs",
        "subject: Stats\n---\n<p>No footer here</p>\n",
    );
    env.patch_config("sara@example.com", "sara.realty@gmail.com");
    let out = env.nurture(&["lint"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "templates/8x8/checkin.sms.hbs:1:1: error: the SMS must contain the opt-out text",
        "templates/8x8/home-tip.email.hbs:1:1: error: subject: a subject starting with Re: or Fwd:",
        "templates/8x8/market-stats.email.hbs:1:1: error: the email must render {{unsubscribe_url}}",
        "templates/8x8/market-stats.email.hbs:1:1: error: the email must render {{sender.postal_address}}",
        "nurture.toml:7:9: error: [sender] email: gmail.com is a free-mail domain",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    assert!(!env.nurture(&["run", "--now", NOW]).status.success(), "run refuses to start");
    assert_eq!(env.sink().count(), 0);
}

#[test]
fn preview_shows_sms_encoding_and_segments_and_lint_warns_on_long_sms() {
    let env = TestEnv::new("segments");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let ar = env.ok(&["preview", "8x8/checkin", "--contact", "ahmed@example.com"]);
    assert!(
        ar.contains("Encoding: UCS-2") && ar.contains("Segments: 2") && ar.contains("مرحباً أحمد"),
        "{ar}"
    );
    let eml = env.ok(&["preview", "8x8/welcome", "--contact", "ahmed@example.com", "--format", "eml"]);
    let m = parse(&eml);
    assert_eq!(m.subject(), Some("أحمد، تقرير السوق العقاري في منطقتك"));
    assert!(header(&eml.replace("\r\n", "\n"), "List-Unsubscribe-Post").is_some());
    let html = env.ok(&["preview", "8x8/welcome", "--sample", "--format", "html"]);
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Dear Sam,"), "{html}");
    let text = env.ok(&["preview", "8x8/welcome", "--format", "text"]);
    assert!(
        text.contains("Unsubscribe (http://127.0.0.1:8080/u/") && !text.contains("<p>"),
        "{text}"
    );
    let en = env.ok(&["preview", "8x8/checkin", "--contact", "olivia.bennett@example.com"]);
    assert!(en.contains("Encoding: GSM-7") && en.contains("Segments: 1"), "{en}");
    env.patch_config("[sms]\n", "[sms]\nmax_segments = 1\n");
    let out = env.nurture(&["lint"]);
    assert!(out.status.success(), "warnings do not fail lint");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("templates/8x8/checkin.ar.sms.hbs:1:1: warning: the SMS is 2 parts"),
        "{text}"
    );
}

#[test]
fn send_test_delivers_one_marked_message_outside_the_plans() {
    let env = TestEnv::new("sendtest");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    env.ok(&[
        "send-test",
        "8x8/free-report",
        "--to",
        "Me@Agency.example",
        "--contact",
        "ahmed@example.com",
    ]);
    let m = env.sink().messages();
    assert_eq!(m.len(), 1);
    assert_eq!(header(&m[0], "X-Rcpt-Args").as_deref(), Some("<me@agency.example>"));
    assert_eq!(
        parse(&m[0]).subject(),
        Some("[TEST] تقرير مجاني: 5 أخطاء يقع فيها البائعون وكيف تتجنبها")
    );
    env.ok(&["send-test", "12-direct/checkin", "--to", "(217) 201-0177"]);
    let sms = env.twilio().requests();
    assert_eq!(sms[0]["form"]["To"], "+12172010177");
    // Outside the ledger and the plans: the real run still sends everything.
    let s = env.json(&["run", "--now", NOW]);
    assert_eq!(s["sent"], 3, "{s}");
    assert_eq!(env.json(&["status"])["last_run_deliveries"]["sent"], 3);
}

#[test]
fn lint_reports_plan_problems_with_positions() {
    let env = TestEnv::new("lintplan");
    env.write("jobs/bad.toml", "name = \"bad\"\nthen = \"nowhere\"\n\n[[touch]]\nid = \"a\"\nafter = \"3x\"\nchannel = \"fax\"\n\n[[touch]]\nid = \"b\"\nafter = \"1d\"\nchannel = \"email\"\ntemplate = \"missing/one\"\n");
    let out = env.nurture(&["lint"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "jobs/bad.toml:6:9: error: after: bad duration",
        "jobs/bad.toml:7:11: error: channel: unknown channel \"fax\"",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    env.write(
        "jobs/bad.toml",
        "then = \"nowhere\"\n[[touch]]\nid = \"b\"\nafter = \"1d\"\nchannel = \"email\"\ntemplate = \"missing/one\"\n",
    );
    let text = String::from_utf8_lossy(&env.nurture(&["lint"]).stdout).to_string();
    assert!(text.contains("jobs/bad.toml:1:1: error: then: no plan \"nowhere\""), "{text}");
    assert!(
        text.contains("jobs/bad.toml:2:1: error: touch \"b\": template missing/one.email.hbs not found"),
        "{text}"
    );
}

#[test]
fn embedded_outboxes_write_eml_and_jsonl_files() {
    let env = TestEnv::new("outbox");
    env.use_outboxes();
    env.import(CONTACTS, &["--enrolled-on", "2026-11-03"]);
    let s = env.json(&["run", "--now", NOW]);
    assert_eq!(s["sent"], 5, "{s}");
    let emls: Vec<_> = std::fs::read_dir(env.path().join("out"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(emls.len(), 3);
    let raw = std::fs::read_to_string(emls[0].path()).unwrap();
    assert!(header(&raw, "List-Unsubscribe-Post").is_some());
    let sms = std::fs::read_to_string(env.path().join("out/sms.jsonl")).unwrap();
    assert_eq!(sms.lines().count(), 2);
    assert!(sms.contains("+966501234567") && sms.contains("مرحباً أحمد"), "{sms}");
    assert_eq!(env.sink().count(), 0);
    assert!(env.twilio().requests().is_empty());
}

#[test]
fn smtp_connection_refused_is_transient() {
    let env = TestEnv::new("refused");
    let port = env.sink().port;
    env.write_config("max_attempts = 2\nretry_base_secs = 1\nheartbeat_secs = 1\nclaim_ttl_secs = 5\ndrain_wait_secs = 10");
    env.patch_config(&format!("127.0.0.1:{port}\""), "127.0.0.1:9\"");
    env.import("email,plan\na@example.com,8x8\n", &["--enrolled-on", DATE]);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!((s["dead"].as_u64(), s["failed"].as_u64()), (Some(1), Some(0)), "{s}");
    let status = env.json(&["status"]);
    assert!(
        status["dead_letters"][0]["reason"].as_str().unwrap().contains("Connection refused"),
        "{status}"
    );
}

#[test]
fn rate_limit_paces_sends() {
    let env = TestEnv::new("rate");
    env.patch_config("pool_size = 16", "pool_size = 4\nrate_per_second = 20");
    let mut csv = String::from("email,plan\n");
    for i in 0..41 {
        csv.push_str(&format!("p{i}@example.com,8x8\n"));
    }
    env.import(&csv, &["--enrolled-on", DATE]);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!(s["sent"], 41, "{s}");
    // 41 messages at 20/s need at least 2 s of sending.
    assert!(s["deliver_secs"].as_f64().unwrap() >= 2.0, "{s}");
}

/// README's table of what is kept how long, read off Redis after a night: the queue's
/// idempotency keys (`grace_days + 4`, at least 7 days), a lead answer (24 h), an inbound SMS
/// (30 days) and the agenda views (40 days).
#[test]
fn keys_live_as_long_as_readme_says() {
    let env = TestEnv::new("ttls");
    env.patch_config(
        "[delivery]\n",
        "[leads]\n\n[leads.sources.web]\nkey = \"web-key-0123456789\"\n\n[delivery]\n",
    );
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    env.json(&["run", "--date", DATE]);
    env.ok(&["agenda", "--date", DATE]);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let lead = crate::support::http(
        "POST",
        &format!("{}/leads", server.base),
        &[
            ("Authorization", "Bearer web-key-0123456789"),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "k1"),
        ],
        r#"{"email":"new@example.com"}"#,
    );
    assert_eq!(lead.status, 201);
    crate::compliance::post_sms_as(&server.base, "+12175550100", "hello", true, Some("SM-ttl"));
    let mut r = env.redis();
    let mut ttl_days = |pattern: &str| -> f64 {
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}:{pattern}", env.prefix)).query(&mut r).unwrap();
        assert!(!keys.is_empty(), "no key {pattern}");
        let ttl: i64 = redis::cmd("TTL").arg(&keys[0]).query(&mut r).unwrap();
        ttl as f64 / 86_400.0
    };
    let within = |got: f64, days: f64| assert!((days - 0.01..=days).contains(&got), "{got} days, README says {days}");
    within(ttl_days("jobs*idempotency*"), 7.0);
    within(ttl_days("leads:idem:*"), 1.0);
    within(ttl_days("sms:seen:*"), 30.0);
    within(ttl_days("agenda:shown:*"), 40.0);
    // Each delivery's mark (sent, skipped, agenda...) goes by itself after retention_days; a
    // finished job leaves nothing in the queue (keep_done_hours = 0).
    within(ttl_days("delivery:*"), 35.0);
    let left: Vec<String> = redis::cmd("KEYS").arg(format!("{}:jobs:meta:*", env.prefix)).query(&mut r).unwrap();
    assert!(left.is_empty(), "{left:?}");
    let done: u64 = redis::cmd("EXISTS").arg(format!("{}:jobs:done", env.prefix)).query(&mut r).unwrap();
    let data: u64 = redis::cmd("HLEN").arg(format!("{}:jobs:data", env.prefix)).query(&mut r).unwrap();
    assert_eq!((done, data), (0, 0));
    // status: Redis's memory, and what the last night's volume settles at.
    let status = env.json(&["status"]);
    let memory = &status["redis_memory"];
    let night = ["sent", "suppressed", "failed"]
        .iter()
        .filter_map(|k| status["last_run_deliveries"][k].as_u64())
        .sum::<u64>();
    assert!(night > 0 && memory["used_bytes"].as_u64().unwrap() > 0, "{status}");
    assert_eq!(memory["messages_a_night"], night);
    let keep_days = u64::from(nurture::store::DEFAULT_KEEP_DAYS);
    assert_eq!(
        memory["projected_bytes"],
        nurture::store::sizing::projected(night, 35, 7, keep_days)
    );
}
