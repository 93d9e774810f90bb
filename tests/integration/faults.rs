//! Delivery under faults, injected for real: a scriptable SMTP server (`support/fault.rs`)
//! that refuses, stalls, delays or loses its replies, and is stopped and restarted. Every
//! check counts what the SMTP server received per recipient.

use crate::support::TestEnv;
use crate::support::fault::FaultSmtp;
use crate::{DATE, NOW};
use serde_json::{Value, json};
use std::process::Output;
use std::time::{Duration, Instant};

/// Enrolled 14 days before DATE: the `w3-neighborhood` email of 8x8 is due, nothing else sends.
pub(crate) const ENROLLED: &str = "2026-11-06";

/// Short timeouts: every wait in these tests is a configured one.
pub(crate) const DELIVERY: &str = "retry_base_secs = 1\nretry_max_secs = 2\nheartbeat_secs = 1\nclaim_ttl_secs = 5\n\
drain_wait_secs = 3\nconcurrency = 4\nbreaker_after = 2\nbreaker_cooldown_secs = 5";

pub(crate) fn contacts(n: usize) -> String {
    let mut csv = String::from("first_name,last_name,email,plan\n");
    for i in 0..n {
        csv.push_str(&format!("C{i},Test,c{i}@example.com,8x8\n"));
    }
    csv
}

/// A workspace whose SMTP relay is the scriptable server, with `n` contacts due one email.
pub(crate) fn fault_env(name: &str, control: Value, delivery: &str, n: usize) -> (TestEnv, FaultSmtp) {
    let env = TestEnv::new(name);
    let smtp = FaultSmtp::start(&env.path().join("fault-smtp"), control);
    env.write_config(delivery);
    env.patch_config(
        &format!("url = \"smtp://127.0.0.1:{}\"\npool_size = 16", env.sink().port),
        &format!(
            "url = \"smtp://127.0.0.1:{}\"\npool_size = 4\ntimeout_secs = 1\ndata_timeout_secs = 2",
            smtp.port
        ),
    );
    env.import(&contacts(n), &["--enrolled-on", ENROLLED]);
    (env, smtp)
}

/// A workspace on the fake SMS provider with one config change and `csv` enrolled on `enrolled`.
pub(crate) fn sms_env(name: &str, patch: (&str, &str), csv: &str, enrolled: &str) -> TestEnv {
    let env = TestEnv::new(name);
    env.write_config(DELIVERY);
    env.patch_config(patch.0, patch.1);
    env.import(csv, &["--enrolled-on", enrolled]);
    env
}

pub(crate) fn run_json(env: &TestEnv, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["run", "--json"];
    if !extra.contains(&"--now") {
        args.extend(["--now", NOW]);
    }
    args.extend_from_slice(extra);
    let out = env.nurture(&args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("run printed no JSON: {}", String::from_utf8_lossy(&out.stderr)));
    (out, v)
}

/// Starts `run --now NOW --json` in the background, its summary on a pipe; `stderr_too` pipes
/// its log as well (read it with `wait_with_output`).
pub(crate) fn spawn_run(env: &TestEnv, stderr_too: bool) -> std::process::Child {
    let mut c = env.command(&["run", "--now", NOW, "--json"]);
    c.stdout(std::process::Stdio::piped());
    if stderr_too {
        c.stderr(std::process::Stdio::piped());
    }
    c.spawn().unwrap()
}

/// Starts `run` in the background and returns once the server has accepted `n` messages.
pub(crate) fn run_until_received(env: &TestEnv, smtp: &FaultSmtp, n: usize) -> std::process::Child {
    let child = spawn_run(env, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.accepted_per_recipient().len() < n {
        assert!(Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

pub(crate) fn assert_each_once(smtp: &FaultSmtp, n: usize) {
    let got = smtp.accepted_per_recipient();
    for i in 0..n {
        let r = format!("c{i}@example.com");
        assert_eq!(got.get(&r), Some(&1), "{r}: {got:?}");
    }
    assert_eq!(got.len(), n, "{got:?}");
}

fn suppressed_emails(env: &TestEnv) -> u64 {
    env.json(&["status"])["suppressed"]["email"].as_u64().unwrap()
}

#[test]
fn a_relay_refusing_the_sender_or_the_content_suppresses_nobody_and_the_next_run_sends_each_once() {
    let (env, smtp) = fault_env(
        "refuse",
        json!({"mail": 550, "text": "5.7.1 <sara@example.com>: sender not authorised"}),
        DELIVERY,
        6,
    );
    let (out, s) = run_json(&env, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "the breaker stops the run with rc 3: {err}");
    assert!(
        err.contains("5.7.1 <sara@example.com>: sender not authorised"),
        "the relay's own reply: {err}"
    );
    assert_eq!((s["sent"].as_u64(), s["failed"].as_u64()), (Some(0), Some(0)), "{s}");
    assert_eq!(suppressed_emails(&env), 0, "nobody is suppressed for the relay's refusal");
    let status = env.json(&["status"]);
    assert_eq!(status["senders"]["email"]["state"], "refused", "{status}");
    assert!(smtp.received().is_empty());

    // A content filter at the end of DATA: the same — not a bounce of the recipient.
    smtp.set(json!({"end": 554, "text": "5.7.0 message content rejected"}));
    let (out, _) = run_json(&env, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("5.7.0 message content rejected"));
    assert_eq!(suppressed_emails(&env), 0);
    assert!(smtp.accepted_per_recipient().is_empty());

    // The operator fixes the relay: the next run sends every message, once.
    smtp.set(json!({}));
    let (out, s) = run_json(&env, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s["sent"], 6, "{s}");
    assert_each_once(&smtp, 6);
    assert_eq!(env.json(&["status"])["senders"]["email"]["state"], "ok");
    let (_, again) = run_json(&env, &[]);
    assert_eq!(again["sent"], 0);
    assert_each_once(&smtp, 6);
}

#[test]
fn only_the_recipients_own_rejection_suppresses_it() {
    let (env, smtp) = fault_env("rcpt550", json!({"rcpt": 550, "text": "5.1.1 no such user"}), DELIVERY, 2);
    let (out, s) = run_json(&env, &[]);
    assert!(out.status.success(), "a bounce is not the relay's fault");
    assert_eq!(s["failed"], 2, "{s}");
    assert_eq!(suppressed_emails(&env), 2);
    assert!(smtp.accepted_per_recipient().is_empty());
}

/// With PIPELINING (MAIL, RCPT and DATA in one write) each reply is still judged by its own
/// stage: the recipient's 550 is a bounce, the sender's 550 the relay refusing us, and a relay
/// that accepts gets each message once.
#[test]
fn pipelined_commands_are_judged_stage_by_stage() {
    let (env, smtp) = fault_env(
        "pipebounce",
        json!({"pipelining": true, "rcpt": 550, "text": "5.1.1 no such user"}),
        DELIVERY,
        2,
    );
    let (out, s) = run_json(&env, &[]);
    assert!(out.status.success(), "a bounce is not the relay's fault");
    assert_eq!(s["failed"], 2, "{s}");
    assert_eq!(suppressed_emails(&env), 2);
    assert!(smtp.data_per_recipient().is_empty(), "no data after a refused RCPT");

    let (env, smtp) = fault_env(
        "piperefuse",
        json!({"pipelining": true, "mail": 550, "text": "5.7.1 sender not authorised"}),
        DELIVERY,
        3,
    );
    let (out, s) = run_json(&env, &[]);
    assert_eq!(out.status.code(), Some(3), "{s}");
    assert_eq!(suppressed_emails(&env), 0, "the relay's refusal is not the recipient's");
    assert!(smtp.data_per_recipient().is_empty());
    smtp.set(json!({"pipelining": true}));
    let before = smtp.pipelined();
    let (out, s) = run_json(&env, &["--now", "2026-11-20T18:05:00Z"]);
    assert!(out.status.success(), "{s}");
    assert_eq!(s["sent"], 3, "{s}");
    assert_each_once(&smtp, 3);
    assert_eq!(smtp.pipelined() - before, 3, "MAIL and RCPT went in one write");
}

#[test]
fn a_reply_lost_after_the_data_is_held_when_told_and_needs_a_decision() {
    // The server answers 250 four seconds after the data; nurture waits two (data_timeout_secs).
    let (env, smtp) = fault_env(
        "lostreply",
        json!({"delay_end": 4}),
        &format!("{DELIVERY}\nafter_lost_reply = \"hold\""),
        3,
    );
    let (out, s) = run_json(&env, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "held messages need a decision: {err}");
    assert!(err.contains("3 message(s) need a decision") && err.contains("dead retry"), "{err}");
    assert_eq!(
        (s["unknown"].as_u64(), s["sent"].as_u64(), s["held"].as_u64()),
        (Some(3), Some(0), Some(3)),
        "{s}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_each_once(&smtp, 3);
    // Neither a rerun nor a worker sends them again; the rerun still says they wait.
    let (out, again) = run_json(&env, &[]);
    assert_eq!((again["sent"].as_u64(), out.status.code()), (Some(0), Some(4)), "{again}");
    assert_eq!(smtp.data_per_recipient().values().sum::<usize>(), 3, "{:?}", smtp.received());
    assert_eq!(env.json(&["status"])["held"], 3);
    assert!(env.ok(&["status"]).contains("3 held"));
    let dead = env.json(&["dead", "list"]);
    let dead = dead.as_array().unwrap();
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert!(
        dead.iter().all(|d| d["reason"].as_str().unwrap().starts_with("unknown outcome")),
        "{dead:?}"
    );
    // The relay is back and the operator decides: send them again. Each goes out once more.
    smtp.set(json!({}));
    env.ok(&["dead", "retry", "--all"]);
    let (out, s) = run_json(&env, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((s["sent"].as_u64(), s["held"].as_u64()), (Some(3), Some(0)), "{s}");
    assert!(
        smtp.data_per_recipient().values().all(|n| *n == 2),
        "{:?}",
        smtp.data_per_recipient()
    );
}

#[test]
fn a_reply_lost_after_the_data_is_tried_again_by_default_with_the_same_message() {
    // The relay takes the data and hangs up before its reply; then it works again.
    // The retry waits for the send claim's lease (5 s): the drain waits longer than that.
    let delivery = DELIVERY.replace("drain_wait_secs = 3", "drain_wait_secs = 8");
    let (env, smtp) = fault_env("lostretry", json!({"drop_after_data": true}), &delivery, 3);
    let run = spawn_run(&env, true);
    let deadline = Instant::now() + Duration::from_secs(20);
    while smtp.data_per_recipient().len() < 3 {
        assert!(Instant::now() < deadline, "the data never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    smtp.set(json!({}));
    let out = run.wait_with_output().unwrap();
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        (s["sent"].as_u64(), s["held"].as_u64(), s["unknown"].as_u64()),
        (Some(3), Some(0), Some(0)),
        "{s}"
    );
    // Each was accepted once; the lost copy and the retry are the same message.
    assert_each_once(&smtp, 3);
    assert!(
        smtp.data_per_recipient().values().all(|n| *n == 2),
        "{:?}",
        smtp.data_per_recipient()
    );
}

#[test]
fn a_relay_that_never_greets_does_not_hang_the_run_and_the_next_run_delivers_all() {
    let (env, smtp) = fault_env("nogreet", json!({"stall": "greeting"}), DELIVERY, 3);
    let started = Instant::now();
    let (out, s) = run_json(&env, &[]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The outage outlasts the drain wait (3 s): the run ends within README's bound,
    // 3 × timeout_secs (1) + drain_wait_secs (3) + 2 s.
    eprintln!("a relay that never greets: run ended after {took:?}");
    assert!(took <= Duration::from_secs(3 + 3 + 2), "run took {took:?}");
    assert_eq!((s["sent"].as_u64(), s["dead"].as_u64()), (Some(0), Some(0)), "{s}");
    let left = s["deferred"].as_u64().unwrap() + s["waiting"].as_u64().unwrap();
    assert_eq!(left, 3, "the retries stay queued: {s}");
    assert!(
        s["unreachable"].as_str().unwrap().starts_with("email relay unreachable since"),
        "{s}"
    );
    assert_eq!(env.json(&["status"])["senders"]["email"]["state"], "down");
    // The relay comes back: the next run (once the retries fall due) delivers each once.
    smtp.set(json!({}));
    let (_, s) = run_json(&env, &["--now", "2026-11-20T18:05:00Z"]);
    assert_eq!(s["sent"], 3, "{s}");
    assert_each_once(&smtp, 3);
}

#[test]
fn a_throttling_relay_in_the_middle_of_a_run_loses_nothing_and_duplicates_nothing() {
    let delivery = DELIVERY.replace("drain_wait_secs = 3", "drain_wait_secs = 10");
    let (env, smtp) = fault_env("throttle", json!({"delay_end": 0.05}), &delivery, 60);
    let child = run_until_received(&env, &smtp, 10);
    smtp.set(json!({"mail": 421, "text": "4.7.0 too many messages, slow down"}));
    std::thread::sleep(Duration::from_secs(4));
    smtp.set(json!({}));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["dead"], 0, "{s}");
    assert_each_once(&smtp, 60);
    assert_eq!(suppressed_emails(&env), 0);
}

#[test]
fn dead_letters_can_be_seen_retried_once_and_dropped() {
    let delivery = format!("{DELIVERY}\nmax_attempts = 2");
    let (env, mut smtp) = fault_env("dead", json!({}), &delivery, 4);
    smtp.stop();
    let (_, s) = run_json(&env, &[]);
    assert_eq!(s["dead"], 4, "connection refused twice: dead letters: {s}");
    let dead = env.json(&["dead", "list"]);
    let dead = dead.as_array().unwrap().clone();
    assert_eq!(dead.len(), 4);
    let id_of = |rcpt: &str| {
        dead.iter()
            .find(|d| d["job"]["contact_id"] == rcpt)
            .map(|d| d["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    smtp.restart();
    env.ok(&["dead", "drop", &id_of("c3@example.com")]);
    let mut retry = vec!["dead", "retry"];
    let ids: Vec<String> = ["c0@example.com", "c1@example.com", "c2@example.com"]
        .iter()
        .map(|c| id_of(c))
        .collect();
    retry.extend(ids.iter().map(String::as_str));
    env.ok(&retry);
    // Retrying one again is refused (it is no longer dead) and sends nothing twice.
    assert_eq!(env.nurture(&["dead", "retry", &ids[0]]).status.code(), Some(2));
    let (_, s) = run_json(&env, &[]);
    assert_eq!(s["sent"], 3, "{s}");
    let got = smtp.accepted_per_recipient();
    assert_eq!(got.len(), 3, "the dropped one is never sent: {got:?}");
    assert!(got.values().all(|n| *n == 1), "{got:?}");
    assert_eq!(env.json(&["dead", "list"]).as_array().unwrap().len(), 0);
    assert!(env.ok(&["dead", "list"]).contains("no dead letters"));
}

#[test]
fn a_plan_file_missing_for_a_moment_does_not_cancel_its_jobs() {
    let (env, smtp) = fault_env("planmissing", json!({}), DELIVERY, 2);
    env.ok(&["run", "--now", NOW, "--enqueue-only"]);
    let plan = env.path().join("jobs/8x8.toml");
    let aside = env.path().join("8x8.toml.aside");
    std::fs::rename(&plan, &aside).unwrap();
    // A worker during the deploy: the plan is gone, the jobs wait.
    let mut work = env
        .command(&["work", "--now", NOW])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let _ = std::process::Command::new("kill").args(["-TERM", &work.id().to_string()]).status();
    let _ = work.wait();
    assert!(smtp.received().is_empty());
    std::fs::rename(&aside, &plan).unwrap();
    // Back in place: a run a minute later (their wait) sends them, once.
    let (_, s) = run_json(&env, &["--now", "2026-11-20T18:02:00Z"]);
    assert_eq!(s["sent"], 2, "{s}");
    assert_each_once(&smtp, 2);
}

#[test]
fn an_sms_due_in_quiet_hours_goes_out_the_next_morning_in_the_documented_cron_setup() {
    let env = TestEnv::new("quietcron");
    env.write_config(&format!("{DELIVERY}\nsend_spread_secs = 60"));
    env.import(
        "first_name,phone,plan,sms_consent\nQuinn,(217) 201-0142,8x8,2026-10-01 web form\n",
        &["--enrolled-on", "2026-11-03"],
    );
    // 23:30 in Chicago on DATE: the w3-checkin SMS is due, but inside quiet hours.
    let (_, s) = run_json(&env, &["--now", "2026-11-21T05:30:00Z", "--date", DATE]);
    assert_eq!((s["sent"].as_u64(), s["quiet_deferred"].as_u64()), (Some(0), Some(1)), "{s}");
    // The nightly cron run at 02:15 is still in quiet hours: nothing is sent, nothing re-deferred.
    let (_, s) = run_json(&env, &["--now", "2026-11-21T08:15:00Z"]);
    assert_eq!((s["sent"].as_u64(), s["quiet_deferred"].as_u64()), (Some(0), Some(0)), "{s}");
    assert!(env.twilio().requests().is_empty());
    // The daytime cron entry README documents (hourly 08:05–20:05): 09:05 sends it, once.
    let (_, s) = run_json(&env, &["--now", "2026-11-21T15:05:00Z"]);
    assert_eq!(s["sent"], 1, "{s}");
    let (_, s) = run_json(&env, &["--now", "2026-11-21T16:05:00Z"]);
    assert_eq!(s["sent"], 0, "{s}");
    assert_eq!(env.twilio().requests().len(), 1);
}

#[test]
fn redis_killed_and_restarted_mid_run_loses_nothing_and_kills_no_worker() {
    let mut redis = crate::support::private_redis::PrivateRedis::start(&tempfile::tempdir().unwrap().keep(), true);
    let env = TestEnv::new("redisrestart");
    env.write_config(&DELIVERY.replace("drain_wait_secs = 3", "drain_wait_secs = 15"));
    env.patch_config(&crate::support::redis_url(), &redis.url());
    env.patch_config("pool_size = 16", "pool_size = 4\nrate_per_second = 100");
    let n = 300;
    env.import(&contacts(n), &["--enrolled-on", ENROLLED]);
    let child = spawn_run(&env, true);
    env.sink().wait_for(60, Duration::from_secs(30));
    redis.kill();
    std::thread::sleep(Duration::from_secs(2));
    redis.restart();
    let out = child.wait_with_output().unwrap();
    let first: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("run died: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Nothing failed or died because Redis was away; a rerun finishes whatever is left.
    assert_eq!((first["failed"].as_u64(), first["dead"].as_u64()), (Some(0), Some(0)), "{first}");
    let second = env.json(&["run", "--now", "2026-11-20T18:10:00Z"]);
    assert_eq!((second["failed"].as_u64(), second["dead"].as_u64()), (Some(0), Some(0)), "{second}");
    let mut per: std::collections::HashMap<String, usize> = Default::default();
    for m in env.sink().messages() {
        let to = crate::support::header(&m, "To").unwrap();
        *per.entry(to).or_default() += 1;
    }
    assert_eq!(per.len(), n, "every contact received its message: {} of {n}", per.len());
    let twice = per.values().filter(|c| **c > 1).count();
    println!(
        "redis SIGKILL mid-run: {n} contacts, {} messages, {twice} received twice",
        per.values().sum::<usize>()
    );
    // AOF everysec rewinds up to ~1 s of ledger marks: at 100 messages/s that is ~100 re-sent.
    assert!(twice <= 150, "{twice} duplicates");
}

#[test]
fn serve_reports_redis_down_on_healthz_and_recovers_when_it_returns() {
    use crate::support::http;
    let mut redis = crate::support::private_redis::PrivateRedis::start(&tempfile::tempdir().unwrap().keep(), false);
    let env = TestEnv::new("healthz");
    env.write_config(DELIVERY);
    env.patch_config(&crate::support::redis_url(), &redis.url());
    let server = env.serve(&[]);
    let url = format!("{}/healthz", server.base);
    let ok = http("GET", &url, &[], "");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let body: Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(body["status"], "ok");
    for task in ["http", "worker", "scheduler"] {
        assert_eq!(body["tasks"][task]["state"], "running", "{body}");
    }
    redis.kill();
    let down = http("GET", &url, &[], "");
    assert_eq!(down.status, 503, "{}", down.body);
    let body: Value = serde_json::from_str(&down.body).unwrap();
    assert_eq!(body["redis"], "unreachable", "{body}");
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http("GET", &url, &[], "");
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still unhealthy after Redis returned: {}", r.body);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(server.terminate().success());
}

#[test]
fn thirty_nights_keep_redis_flat_after_the_retention_horizon() {
    let redis = crate::support::private_redis::PrivateRedis::start(&tempfile::tempdir().unwrap().keep(), false);
    let env = TestEnv::new("thirty");
    env.write_config(&format!(
        "{}\nretry_window_hours = 24\nretention_days = 8\nkeep_done_hours = 0\nconcurrency = 16",
        DELIVERY.replace("concurrency = 4\n", "")
    ));
    env.patch_config(&crate::support::redis_url(), &redis.url());
    env.write(
        "jobs/daily.toml",
        "name = \"Daily\"\n\n[[touch]]\nid = \"daily\"\ncron = \"0 0 9 * * *\"\nchannel = \"email\"\ntemplate = \"8x8/neighborhood-stats\"\n",
    );
    let n = 200;
    let csv: String = std::iter::once("first_name,last_name,email,plan\n".to_string())
        .chain((0..n).map(|i| format!("D{i},Test,d{i}@example.com,daily\n")))
        .collect();
    env.import(&csv, &["--enrolled-on", "2026-10-01"]);
    let mut conn = redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
    let mut figures = Vec::new();
    for day in 1..=30 {
        let now = format!("2026-11-{day:02}T18:00:00Z");
        let s = env.json(&["run", "--now", &now]);
        // The first night also catches up the grace window (3 days before it).
        let expected = if day == 1 { 4 * n } else { n };
        assert_eq!(s["sent"], expected, "night {day}: {s}");
        let keys: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
        let info: String = redis::cmd("INFO").arg("memory").query(&mut conn).unwrap();
        let used: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        figures.push((day, keys, used));
    }
    for (day, keys, used) in &figures {
        println!("night {day:2}: {keys:6} keys, {used:9} bytes used");
    }
    // After the horizon (8 days of marks + the grace window) the key count stops growing,
    // but for one small `stats:<date>` hash a night (the report's history).
    // (A linear growth would add 200 keys a night: 3,600 over these 18 nights.) Compared as the
    // largest count of five nights each, since the number of finished workers not yet
    // reaped by orphan recovery varies with the timing of the runs.
    let most = |from: usize, to: usize| figures[from..to].iter().map(|f| f.1).max().unwrap();
    let (early, late) = (most(9, 14), most(25, 30));
    assert!(
        late <= early + early / 10,
        "keys grew from {early} (nights 10-14) to {late} (nights 26-30)"
    );
    let (_, _, mem_30) = figures[29];
    // Memory still grows by the contacts' histories (capped lists, one event a night each,
    // ~150 B): nothing else may.
    let (_, _, mem_12) = figures[11];
    let history = 18 * n as u64 * 250;
    assert!(mem_30 <= mem_12 + history, "memory grew from {mem_12} to {mem_30}");
    // And nothing was sent twice on the way.
    assert_eq!(env.sink().count(), 33 * n as usize);
}

#[test]
fn a_worker_started_over_twenty_thousand_due_jobs_drains_them() {
    // apalis-redis 1.0 moved every due id with one unpack(), and died at 8,000 (TECH-NOTES §0.1).
    let env = TestEnv::new("backlog");
    env.write_config(&format!("{DELIVERY}\nsend_spread_secs = 0"));
    env.patch_config("provider = \"twilio\"", "provider = \"file\"");
    env.write(
        "jobs/burst.toml",
        "name = \"Burst\"\n\n[[touch]]\nid = \"sms\"\nafter = \"0d\"\nat = \"09:00\"\nchannel = \"sms\"\ntemplate = \"8x8/checkin\"\n",
    );
    let n = 20_000;
    let csv: String = std::iter::once("first_name,phone,plan,sms_consent,timezone\n".to_string())
        .chain((0..n).map(|i| format!("B{i},+96650{:07},burst,2026-10-01,America/Chicago\n", 1_000_000 + i)))
        .collect();
    let report = env.import(&csv, &["--enrolled-on", DATE]);
    assert_eq!(report["created"], n, "{report}");
    // 06:00 in Chicago: every SMS waits for 09:00, all due in the same second.
    let s = env.json(&["run", "--now", "2026-11-20T12:00:00Z", "--enqueue-only"]);
    assert_eq!(s["scheduled"], n, "{s}");
    assert_eq!(env.scheduled_jobs().len(), n as usize);
    // A worker started at 09:30 finds 20,000 due jobs at once.
    let mut work = env
        .command(&["work", "--now", "2026-11-20T15:30:00Z", "--concurrency", "32"])
        .spawn()
        .unwrap();
    let outbox = env.path().join("outbox/sms.jsonl");
    let lines = || std::fs::read_to_string(&outbox).map(|t| t.lines().count()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(240);
    while lines() < n as usize {
        assert!(work.try_wait().unwrap().is_none(), "the worker died with {} sent", lines());
        assert!(Instant::now() < deadline, "only {} of {n} sent", lines());
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &work.id().to_string()]).status();
    assert!(work.wait().unwrap().success());
    let text = std::fs::read_to_string(&outbox).unwrap();
    let distinct: std::collections::HashSet<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(distinct.len(), n as usize, "each once");
}

#[test]
fn a_relay_down_in_the_middle_of_a_run_is_waited_out_each_message_once() {
    let delivery = DELIVERY.replace("drain_wait_secs = 3", "drain_wait_secs = 20");
    let (env, smtp) = fault_env("outage", json!({}), &delivery, 300);
    env.patch_config("pool_size = 4", "pool_size = 4\nrate_per_second = 60");
    let child = run_until_received(&env, &smtp, 60);
    // The relay goes away between messages for 10 s: new connections and new transactions are
    // cut off without a reply.
    smtp.set(json!({"down": true}));
    std::thread::sleep(Duration::from_secs(10));
    smtp.set(json!({}));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((s["dead"].as_u64(), s["unknown"].as_u64()), (Some(0), Some(0)), "{s}");
    assert!(s["retried"].as_u64().unwrap() > 0, "the outage was felt: {s}");
    assert_each_once(&smtp, 300);
}

#[test]
fn timed_touches_go_out_on_their_day_and_a_deferral_past_its_grace_window_is_missed() {
    let env = TestEnv::new("timed");
    env.write_config(&format!("{DELIVERY}\nsend_spread_secs = 60"));
    env.write(
        "jobs/timed.toml",
        "name = \"Timed\"\n\n[[touch]]\nid = \"morning\"\nafter = \"0d\"\nat = \"09:00\"\nchannel = \"email\"\ntemplate = \"8x8/neighborhood-stats\"\n\n\
         [[touch]]\nid = \"text\"\nafter = \"0d\"\nchannel = \"sms\"\ntemplate = \"8x8/checkin\"\n",
    );
    env.import(
        "first_name,email,phone,plan,sms_consent\nTara,tara@example.com,(217) 201-0142,timed,2026-10-01\n",
        &["--enrolled-on", DATE],
    );
    // The nightly run at 02:15 Chicago: the email waits for 09:00, the SMS for the end of quiet hours.
    let (_, s) = run_json(&env, &["--now", "2026-11-20T08:15:00Z"]);
    assert_eq!(
        (s["sent"].as_u64(), s["scheduled"].as_u64(), s["quiet_deferred"].as_u64()),
        (Some(0), Some(1), Some(1)),
        "{s}"
    );
    // The daytime entry at 09:05 sends both, on their day.
    let (_, s) = run_json(&env, &["--now", "2026-11-20T15:05:00Z"]);
    assert_eq!(s["sent"], 2, "{s}");
    assert_eq!(env.sink().count(), 1);
    assert_eq!(env.twilio().requests().len(), 1);

    // A second contact whose SMS is moved at night, and no daytime run for five days.
    env.import(
        "first_name,phone,plan,sms_consent\nUma,(217) 201-0143,timed,2026-10-01\n",
        &["--enrolled-on", "2026-11-21"],
    );
    let (_, s) = run_json(&env, &["--now", "2026-11-22T04:30:00Z", "--date", "2026-11-21"]);
    assert_eq!(s["quiet_deferred"], 1, "{s}");
    let (_, s) = run_json(&env, &["--now", "2026-11-26T16:00:00Z"]);
    assert_eq!(s["sent"], 0, "never sent days late: {s}");
    assert_eq!(env.twilio().requests().len(), 1);
    let show = env.ok(&["contact", "show", "+12172010143"]);
    assert!(show.contains("missed"), "{show}");
}

#[test]
fn an_sms_api_that_answers_too_late_is_never_paid_twice_and_a_401_stops_sms() {
    // Enrolled 17 days before DATE: the w3-checkin SMS is due. 0408 answers after 3 s, 0401 is 401.
    let env = sms_env(
        "smslate",
        ("from = \"+15005550006\"", "from = \"+15005550006\"\ntimeout_secs = 1"),
        "first_name,phone,plan,sms_consent\nLate,+12175550408,8x8,2026-10-01\nAuth,+12175550401,8x8,2026-10-01\n",
        "2026-11-03",
    );
    let (_, s) = run_json(&env, &[]);
    assert_eq!(s["unknown"], 1, "{s}");
    assert_eq!(s["failed"], 0, "a 401 is not the recipient's fault: {s}");
    assert_eq!(env.json(&["status"])["suppressed"]["sms"], 0);
    assert_eq!(env.json(&["status"])["senders"]["sms"]["state"], "refused", "{s}");
    let (_, again) = run_json(&env, &["--now", "2026-11-20T18:05:00Z"]);
    assert_eq!(again["unknown"], 0, "{again}");
    let late: Vec<_> = env
        .twilio()
        .requests()
        .into_iter()
        .filter(|r| r["form"]["To"] == "+12175550408")
        .collect();
    assert_eq!(late.len(), 1, "the provider got the late one once: {late:?}");
}

/// The lease primitive the worker runs beside every send: renewed by its owner it outlives its
/// first term and keeps another worker out; not renewed, it runs out and the other may claim.
#[test]
fn a_send_claim_renewed_by_its_owner_keeps_another_worker_out() {
    use nurture::ledger::{self, Claim, Target};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let prefix = format!("nt-lease-{}", std::process::id());
        let store = nurture::store::Store::connect(&crate::support::redis_url(), &prefix).await.unwrap();
        let key = "c@example.com|8x8|w1|2026-11-20";
        let target = Target {
            delivery_key: key,
            contact_id: "c@example.com",
            channel: "email",
        };
        // A claim is only ever granted for a stored contact.
        let contact = r#"{"id":"c@example.com","fields":{"email":"c@example.com"},"plan_history":[]}"#;
        let _: () = redis::cmd("HSET")
            .arg(store.keys.contacts())
            .arg("c@example.com")
            .arg(contact)
            .query_async(&mut store.conn.clone())
            .await
            .unwrap();
        assert!(matches!(
            ledger::claim(&store, target, "a", 500).await.unwrap(),
            Claim::Claimed { .. }
        ));
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(ledger::renew(&store, key, "a", 500).await.unwrap(), "the owner renews");
        }
        // 1.2 s after a 0.5 s claim, the renewed lease still holds.
        assert!(matches!(ledger::claim(&store, target, "b", 500).await.unwrap(), Claim::Busy { .. }));
        assert!(!ledger::renew(&store, key, "b", 500).await.unwrap(), "only the owner renews");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            matches!(ledger::claim(&store, target, "b", 500).await.unwrap(), Claim::Claimed { .. }),
            "an unrenewed lease runs out"
        );
        let _: () = redis::cmd("DEL")
            .arg(store.keys.delivery(key))
            .arg(store.keys.contacts())
            .query_async(&mut store.conn.clone())
            .await
            .unwrap();
    });
}

/// Ten SMS contacts (no email) whose `w3-checkin` text is due on DATE.
fn texters() -> String {
    let mut csv = String::from("first_name,phone,plan,sms_consent\n");
    for i in 0..10 {
        csv.push_str(&format!("T{i},+121755510{i:02},8x8,2026-10-01\n"));
    }
    csv
}

/// The texts the SMS stand-in accepted, per number.
fn texts_per_number(env: &TestEnv) -> std::collections::HashMap<String, usize> {
    let mut per = std::collections::HashMap::new();
    for r in env.twilio().requests().into_iter().filter(|r| r["status"] == 201) {
        *per.entry(r["form"]["To"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    per
}

fn assert_each_text_once(env: &TestEnv) {
    let per = texts_per_number(env);
    assert_eq!(per.len(), 10, "{per:?}");
    assert!(per.values().all(|n| *n == 1), "{per:?}");
}

#[test]
fn an_sms_provider_that_refuses_us_does_not_hold_back_the_nights_email() {
    let env = TestEnv::new("smsrefused");
    env.write_config(DELIVERY);
    env.patch_config("auth_token = \"test-token\"", "auth_token = \"wrong-token\"");
    env.import(&contacts(20), &["--enrolled-on", ENROLLED]);
    env.import(&texters(), &["--enrolled-on", "2026-11-03"]);
    let (out, s) = run_json(&env, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "exit 3 says a channel stopped: {err}");
    assert!(err.contains("sms sending stopped") && err.contains("401 Unauthorized"), "{err}");
    assert!(!err.contains("email sending stopped") && !err.contains("worker died"), "{err}");
    assert_eq!((s["sent"].as_u64(), s["waiting"].as_u64()), (Some(20), Some(10)), "{s}");
    let mut per: std::collections::HashMap<String, usize> = Default::default();
    for m in env.sink().messages() {
        *per.entry(crate::support::header(&m, "To").unwrap()).or_insert(0) += 1;
    }
    assert_eq!(per.len(), 20, "every email went out while SMS was stopped: {per:?}");
    assert!(per.values().all(|n| *n == 1), "{per:?}");
    assert!(texts_per_number(&env).is_empty());
    let status = env.json(&["status"]);
    assert_eq!(status["queue"]["parked"], 10, "{status}");

    // The token is renewed: a worker started now takes the parked texts back and sends each
    // once; the next run sends nothing again.
    env.patch_config("auth_token = \"wrong-token\"", "auth_token = \"test-token\"");
    let mut worker = env.command(&["work", "--now", NOW]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while texts_per_number(&env).len() < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    crate::unsafe_sigterm(&worker);
    assert!(worker.wait().unwrap().success());
    assert_each_text_once(&env);
    let (out, s) = run_json(&env, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s["sent"], 0, "{s}");
    assert_each_text_once(&env);
    assert_eq!(env.sink().count(), 20);
    assert_eq!(env.json(&["status"])["queue"]["parked"], 0);
}

#[test]
fn a_relay_that_refuses_us_does_not_hold_back_the_nights_sms() {
    let (env, smtp) = fault_env(
        "mailrefused",
        json!({"mail": 550, "text": "5.7.1 <sara@example.com>: sender not authorised"}),
        DELIVERY,
        20,
    );
    env.import(&texters(), &["--enrolled-on", "2026-11-03"]);
    let (out, s) = run_json(&env, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("email sending stopped") && err.contains("sender not authorised"),
        "{err}"
    );
    assert!(!err.contains("sms sending stopped"), "{err}");
    assert_eq!((s["sent"].as_u64(), s["waiting"].as_u64()), (Some(10), Some(20)), "{s}");
    assert_each_text_once(&env);
    assert!(smtp.accepted_per_recipient().is_empty());

    // The relay is fixed: the next run sends each email once, no text again.
    smtp.set(json!({}));
    let (out, s) = run_json(&env, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s["sent"], 20, "{s}");
    assert_each_once(&smtp, 20);
    assert_each_text_once(&env);
}
