//! The narrow windows of delivery, each opened for real: Redis lost between the relay's 250
//! and the `sent` mark, two workers holding copies of one delivery during a slow send, a long
//! relay outage at full scale, and senders that refuse the startup check.

use crate::faults::{DELIVERY, ENROLLED, assert_each_once, contacts, fault_env, run_json, run_until_received, sms_env, spawn_run};
use crate::support::TestEnv;
use crate::support::private_redis::PrivateRedis;
use crate::{DATE, NOW};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn redis_lost_after_the_relay_accepted_is_waited_out_in_process_and_never_a_resend() {
    let mut redis = PrivateRedis::start(&tempfile::tempdir().unwrap().keep(), true);
    // The relay holds each final 250 back for 2 s: Redis dies while the replies are on their way.
    // No contacts yet: they go into the private Redis once the config points at it.
    let (env, smtp) = fault_env("markwindow", json!({"delay_end": 2.0}), DELIVERY, 0);
    env.patch_config(&crate::support::redis_url(), &redis.url());
    env.patch_config("data_timeout_secs = 2", "data_timeout_secs = 10");
    env.import(&contacts(4), &["--enrolled-on", ENROLLED]);
    let child = spawn_run(&env, true);
    wait_until("the 4 messages' data", 30, || smtp.arrived() >= 4);
    redis.kill();
    // The 250s arrive while Redis is away; it comes back 4 s later (AOF everysec: the claims,
    // written > 1 s before the kill, survive).
    std::thread::sleep(Duration::from_secs(4));
    redis.restart();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        stderr.contains("sent, but Redis did not take the mark"),
        "the fault hit the window between acceptance and the mark: {stderr}"
    );
    assert_eq!(
        (s["sent"].as_u64(), s["dead"].as_u64(), s["failed"].as_u64()),
        (Some(4), Some(0), Some(0)),
        "{s}"
    );
    // Marked once Redis was back: a rerun sends nothing, and no data ever went out twice.
    let (_, again) = run_json(&env, &["--now", "2026-11-20T18:10:00Z"]);
    assert_eq!(again["sent"], 0, "{again}");
    assert_each_once(&smtp, 4);
    assert!(
        smtp.data_per_recipient().values().all(|n| *n == 1),
        "{:?}",
        smtp.data_per_recipient()
    );
}

/// Two copies of each delivery (as after apalis re-enqueues a job it took for orphaned while
/// its worker was still sending): the copy a second worker takes must wait for the first.
fn enqueue_two_copies(env: &TestEnv, n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = nurture::store::Store::connect(&crate::support::redis_url(), &env.prefix)
            .await
            .unwrap();
        let queue = nurture::queue::Queue::new(store, 1, 7, Duration::from_secs(3));
        let jobs: Vec<_> = (0..2).flat_map(|copy| (0..n).map(move |i| delivery_job(i, copy))).collect();
        assert_eq!(queue.enqueue(&jobs, None).await.unwrap(), 2 * n as u64);
    });
}

/// The job of contact `c{i}`'s neighborhood touch, put back `requeue` times.
fn delivery_job(i: usize, requeue: u32) -> nurture::queue::DeliveryJob {
    let job = json!({
        "v": 1, "key": format!("c{i}@example.com|8x8|w3-neighborhood|{DATE}"),
        "contact_id": format!("c{i}@example.com"), "plan": "8x8", "touch": "w3-neighborhood",
        "channel": "email", "template": "8x8/neighborhood-stats", "due": DATE, "run_date": DATE,
        "attempt": 0, "requeue": requeue,
    });
    serde_json::from_value(job).unwrap()
}

/// Takes note of each job's key.
struct Noted(Arc<Mutex<Vec<String>>>);

impl nurture::queue::JobHandler for Noted {
    fn handle(&self, job: nurture::queue::DeliveryJob) -> futures::future::BoxFuture<'static, nurture::queue::JobResult> {
        self.0.lock().unwrap().push(job.key);
        Box::pin(async { nurture::queue::JobResult::Done })
    }
}

/// `run` starts its lanes with the expansion: a draining worker must not end on an empty queue
/// while the night is still being queued, and must take what comes once it is.
#[test]
fn a_draining_worker_stays_while_the_night_is_being_queued_and_takes_what_comes() {
    use nurture::queue::{Drain, Queue};
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = TestEnv::new("filling");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = nurture::store::Store::connect(&crate::support::redis_url(), &env.prefix)
            .await
            .unwrap();
        let queue = Queue::new(store, 1, 7, Duration::from_secs(1));
        let noted = Arc::new(Mutex::new(Vec::new()));
        let work = |name: &str, drain: Drain| {
            let (queue, name, handler) = (queue.clone(), name.to_string(), Arc::new(Noted(noted.clone())));
            tokio::spawn(async move { queue.work(name, 4, handler, drain, futures::future::pending()).await })
        };
        // Nothing held open: an empty queue ends the worker after its quiet looks.
        let idle = work("idle", Drain::when_empty());
        tokio::time::timeout(Duration::from_secs(10), idle)
            .await
            .expect("an empty queue ends a draining worker")
            .unwrap()
            .unwrap();
        let filling = Arc::new(AtomicBool::new(true));
        let worker = work("held", Drain::WhenEmpty { filling: filling.clone() });
        // Eight quiet looks: a drain that ignored `filling` would have ended by now.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!worker.is_finished(), "the worker ended while the night was still being queued");
        let jobs: Vec<_> = (0..3).map(|i| delivery_job(i, 0)).collect();
        queue.enqueue(&jobs, None).await.unwrap();
        filling.store(false, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(20), worker)
            .await
            .expect("the worker drains once all is queued")
            .unwrap()
            .unwrap();
        let mut keys = noted.lock().unwrap().clone();
        keys.sort();
        assert_eq!(keys, jobs.iter().map(|j| j.key.clone()).collect::<Vec<_>>());
    });
}

/// Worker processes, stopped with SIGTERM when dropped (also when the test fails).
struct Workers(Vec<std::process::Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = std::process::Command::new("kill").arg(w.id().to_string()).status();
            let _ = w.wait();
        }
    }
}

#[test]
fn two_workers_holding_copies_of_one_delivery_during_a_slow_send_deliver_it_once() {
    // Each send takes 3 s at the relay; the claim lease is 1 s, so only its renewal keeps the
    // other worker's copy out.
    let delivery = DELIVERY.replace("claim_ttl_secs = 5", "claim_ttl_secs = 1");
    let (env, smtp) = fault_env("lease2w", json!({"delay_end": 3.0}), &delivery, 8);
    env.patch_config("data_timeout_secs = 2", "data_timeout_secs = 10");
    enqueue_two_copies(&env, 8);
    let workers = Workers(
        (0..2)
            .map(|_| {
                env.command(&["work", "--now", NOW])
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    wait_until("8 accepted messages", 60, || smtp.accepted_per_recipient().len() >= 8);
    // Every second copy has had time to be taken (and, were the lease not renewed, sent).
    wait_until("the queue to drain", 30, || env.json(&["status"])["queue"]["waiting"] == 0);
    std::thread::sleep(Duration::from_secs(4));
    drop(workers);
    assert_each_once(&smtp, 8);
    assert!(
        smtp.data_per_recipient().values().all(|n| *n == 1),
        "a second copy reached the relay: {:?}",
        smtp.data_per_recipient()
    );
    let states = env.json(&["status"]);
    assert_eq!(states["queue"]["dead"], 0, "{states}");
}

#[test]
fn a_relay_down_ninety_seconds_in_the_middle_of_two_thousand_messages_loses_none_and_doubles_none() {
    let delivery = DELIVERY
        .replace("drain_wait_secs = 3", "drain_wait_secs = 150")
        .replace("retry_max_secs = 2", "retry_max_secs = 10");
    let n = 2000;
    let (env, smtp) = fault_env("outage90", json!({}), &delivery, n);
    env.patch_config("pool_size = 4", "pool_size = 4\nrate_per_second = 100");
    let started = Instant::now();
    let child = run_until_received(&env, &smtp, 600);
    smtp.set(json!({"down": true}));
    let down_at = smtp.accepted_per_recipient().len();
    std::thread::sleep(Duration::from_secs(90));
    smtp.set(json!({}));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    println!(
        "relay down 90 s after {down_at} of {n}: run took {:.0} s, {} retries, {} sent, {} dead",
        started.elapsed().as_secs_f64(),
        s["retried"],
        s["sent"],
        s["dead"]
    );
    assert_eq!(
        (s["dead"].as_u64(), s["unknown"].as_u64(), s["failed"].as_u64()),
        (Some(0), Some(0), Some(0)),
        "{s}"
    );
    assert_eq!(s["sent"], n, "{s}");
    assert_each_once(&smtp, n);
}

#[test]
fn senders_that_refuse_the_startup_check_stop_the_run_before_any_attempt() {
    // SMS: a wrong token is found by the account check, not by paying for 1 refused message.
    // 12-direct sends an SMS in month 2 (day 30).
    let env = sms_env(
        "startupsms",
        ("auth_token = \"test-token\"", "auth_token = \"wrong-token\""),
        "phone,plan,sms_consent\n+12172010111,12-direct,yes\n",
        "2026-10-21",
    );
    let (out, s) = run_json(&env, &[]);
    assert_eq!(out.status.code(), Some(3), "{s}");
    assert!(
        s["stopped"].as_str().unwrap().contains("401"),
        "the provider's answer is shown: {s}"
    );
    assert!(env.twilio().requests().is_empty(), "no SMS was attempted");
    let status = env.json(&["status"]);
    assert_eq!(status["senders"]["sms"]["state"], "refused", "{status}");
    assert_eq!(status["senders"]["email"]["state"], "ok", "{status}");
    // Fixed: the next run sends what waited, once.
    env.patch_config("auth_token = \"wrong-token\"", "auth_token = \"test-token\"");
    let (out, s) = run_json(&env, &["--now", "2026-11-20T18:05:00Z"]);
    assert!(out.status.success(), "{s}");
    assert_eq!(env.twilio().requests().len(), 1, "{s}");
    assert_eq!(env.json(&["status"])["senders"]["sms"]["state"], "ok");

    // Email: a relay that refuses us at its greeting gets no message at all.
    let (env, smtp) = fault_env(
        "startupsmtp",
        json!({"greeting": 554, "text": "5.7.1 client host blocked"}),
        DELIVERY,
        3,
    );
    let (out, s) = run_json(&env, &[]);
    assert_eq!(out.status.code(), Some(3), "{s}");
    assert!(s["stopped"].as_str().unwrap().contains("5.7.1 client host blocked"), "{s}");
    assert!(smtp.data_per_recipient().is_empty(), "no message was attempted");
    assert_eq!(env.json(&["status"])["suppressed"]["email"], 0);
    smtp.set(json!({}));
    let (_, s) = run_json(&env, &["--now", "2026-11-20T18:05:00Z"]);
    assert_eq!(s["sent"], 3, "{s}");
    assert_each_once(&smtp, 3);

    // A relay without 8BITMIME: `[smtp] eight_bit` (the default) would have every non-ASCII
    // body refused, so the startup check stops the run and says what to set; with
    // `eight_bit = false` the same messages go (quoted-printable) and nothing is refused.
    let (env, smtp) = fault_env("no8bit", json!({"no_8bitmime": true}), DELIVERY, 3);
    let (out, s) = run_json(&env, &[]);
    assert_eq!(out.status.code(), Some(3), "{s}");
    assert!(s["stopped"].as_str().unwrap().contains("eight_bit = false"), "{s}");
    assert!(smtp.data_per_recipient().is_empty(), "no message was attempted");
    env.patch_config("[smtp]\n", "[smtp]\neight_bit = false\n");
    let (out, s) = run_json(&env, &["--now", "2026-11-20T18:05:00Z"]);
    assert!(out.status.success(), "{s}");
    assert_eq!(s["sent"], 3, "{s}");
    assert_each_once(&smtp, 3);
}

/// Ctrl-C while the night is still being queued — Redis holds the run's writes
/// (`CLIENT PAUSE … WRITE`), so the interrupt lands in the expansion for sure: the run stops
/// its lanes too, says so and exits 1, nothing was sent, and the next run sends every message
/// once.
#[test]
fn ctrl_c_while_the_night_is_being_queued_stops_the_run_and_the_next_one_sends_it_all() {
    let redis = PrivateRedis::start(&tempfile::tempdir().unwrap().keep(), false);
    let (env, smtp) = fault_env("interrupt", json!({}), DELIVERY, 0);
    env.patch_config(&crate::support::redis_url(), &redis.url());
    env.import(&contacts(6), &["--enrolled-on", ENROLLED]);
    let mut r = redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(4000).arg("WRITE").query(&mut r).unwrap();
    let child = spawn_run(&env, true);
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted while queueing the night"), "{stderr}");
    assert_eq!(smtp.arrived(), 0, "nothing was sent");
    let (_, again) = run_json(&env, &[]);
    assert_eq!(again["sent"], 6, "{again}");
    assert_each_once(&smtp, 6);
}
