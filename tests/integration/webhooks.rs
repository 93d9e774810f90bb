//! Outgoing webhooks, against receivers that verify every Standard Webhooks signature
//! themselves (`webhook_receiver.py`): each event arrives once, in order per contact, also
//! across a receiver that answers 500 for a minute; a forgotten person's pending events never
//! arrive, and `erased` does, with the id only.

use crate::support::{TestEnv, WebhookReceiver};
use crate::{CONTACTS, NOW};
use serde_json::Value;
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_YS12ZXJ5LXNlY3JldC1rZXktZm9yLXRoZS10ZXN0cw==";

/// The events a receiver took (204), in the order they arrived.
fn delivered(r: &WebhookReceiver) -> Vec<Value> {
    r.requests()
        .into_iter()
        .filter(|q| q["status"] == 204)
        .map(|q| q["event"].clone())
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn types_of(events: &[Value], contact: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["data"]["contact"] == contact)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_event_reaches_the_crm_once_in_order_and_signed_even_through_errors() {
    let env = TestEnv::new("webhooks");
    env.write_config(
        "retry_base_secs = 1\nretry_max_secs = 2\nheartbeat_secs = 1\nclaim_ttl_secs = 5\ndrain_wait_secs = 3\nconcurrency = 4",
    );
    let crm = WebhookReceiver::start(&env.path().join("crm"), SECRET);
    let books = WebhookReceiver::start(&env.path().join("books"), "plain text secret");
    env.patch_config(
        "[delivery]\n",
        &format!(
            "[[webhooks]]\nname = \"crm\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\n\
             [[webhooks]]\nname = \"books\"\nurl = \"{}\"\nsecret = \"plain text secret\"\nevents = [\"deal\"]\n\n[delivery]\n",
            crm.url, books.url
        ),
    );
    // A sample, at once.
    let out = env.ok(&["webhooks", "test", "crm"]);
    assert!(out.starts_with("crm: http://127.0.0.1:"), "{out}");
    assert_eq!(delivered(&crm).pop().unwrap()["type"], "test");
    assert!(!env.nurture(&["webhooks", "test", "nope"]).status.success());
    let list = env.ok(&["webhooks", "list"]);
    assert!(list.contains("crm") && list.contains("books") && list.contains("deal"), "{list}");

    let mut worker = env.command(&["work", "--now", NOW]).spawn().unwrap();
    env.import(CONTACTS, &["--enrolled-on", "2026-11-03"]);
    let s = env.json(&["run", "--now", NOW]);
    let messages = s["sent"].as_u64().unwrap();
    assert!(messages >= 3, "{s}");
    // Three leads and a `sent` per message.
    wait_until("leads and sends", Duration::from_secs(30), || {
        delivered(&crm).len() as u64 == 1 + 3 + messages
    });
    let leads: Vec<Value> = delivered(&crm).into_iter().filter(|e| e["type"] == "lead").collect();
    let id_of = |email: &str| {
        leads
            .iter()
            .find(|e| e["data"]["email"] == email)
            .unwrap_or_else(|| panic!("no lead {email}: {leads:?}"))["data"]["contact"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (olivia, grace) = (id_of("olivia.bennett@example.com"), id_of("grace@example.com"));

    // The CRM answers 500 for a minute: what happens meanwhile waits, in order.
    crm.fail(true);
    let failing_since = Instant::now();
    env.ok(&["record", "response", "olivia.bennett@example.com", "--channel", "call"]);
    env.ok(&["record", "deal", "olivia.bennett@example.com", "--value", "1500"]);
    env.ok(&["record", "response", "grace@example.com"]);
    wait_until("failed attempts", Duration::from_secs(20), || {
        crm.requests().iter().filter(|q| q["status"] == 500).count() >= 6
    });
    // Grace is forgotten while her response is still pending: it never arrives.
    env.ok(&["forget", "grace@example.com"]);
    std::thread::sleep(Duration::from_secs(60).saturating_sub(failing_since.elapsed()));
    crm.fail(false);
    let failures = crm.requests().iter().filter(|q| q["status"] == 500).count();
    assert!(failures >= 40, "retried all minute long (every 1–2 s): {failures}");
    wait_until("the erasure", Duration::from_secs(30), || {
        delivered(&crm).iter().any(|e| e["type"] == "erased")
    });
    wait_until("olivia's move to client", Duration::from_secs(30), || {
        types_of(&delivered(&crm), &olivia).iter().filter(|t| *t == "stage").count() == 2
    });
    std::thread::sleep(Duration::from_secs(1));
    worker.kill().unwrap();
    worker.wait().unwrap();

    let all = crm.requests();
    assert!(all.iter().all(|q| q["valid"] == true), "every signature verifies: {all:?}");
    assert!(all.iter().all(|q| q["content_type"] == "application/json"));
    let got = delivered(&crm);
    let mut ids: Vec<&str> = all
        .iter()
        .filter(|q| q["status"] == 204)
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "each event taken once");
    // Olivia's events in the order they happened.
    let sent_to_olivia = types_of(&got, &olivia).iter().filter(|t| *t == "sent").count();
    let mut expected = vec!["lead".to_string()];
    expected.extend(std::iter::repeat_n("sent".to_string(), sent_to_olivia));
    expected.extend(["response", "stage", "deal", "stage"].map(String::from));
    assert_eq!(types_of(&got, &olivia), expected, "in order per contact");
    let stage: Vec<&Value> = got
        .iter()
        .filter(|e| e["type"] == "stage" && e["data"]["contact"] == olivia)
        .collect();
    assert_eq!(
        (&stage[0]["data"]["from"], &stage[0]["data"]["to"]),
        (&"new".into(), &"contacted".into())
    );
    assert_eq!(stage[1]["data"]["to"], "client");
    // Grace: her lead and sends, then only the erasure — with her id and nothing else.
    let graces = types_of(&got, &grace);
    assert_eq!(graces.last().map(String::as_str), Some("erased"), "{graces:?}");
    assert!(
        !graces.contains(&"response".to_string()),
        "forgotten: her pending response never left: {graces:?}"
    );
    let erased = got.iter().find(|e| e["type"] == "erased").unwrap();
    assert_eq!(erased["data"], serde_json::json!({ "contact": grace }));
    assert!(erased["timestamp"].as_str().unwrap().ends_with('Z'));
    // The books take deals only (and the erasure, which every webhook gets).
    let books_got = delivered(&books);
    let types: Vec<&str> = books_got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["deal", "erased"], "{books_got:?}");
    assert_eq!(books_got[0]["data"]["value"], 1500.0);
    assert!(books.requests().iter().all(|q| q["valid"] == true), "a plain-text secret signs too");
    // Nothing is left in the queue or in the dead letters.
    let status = env.json(&["status"]);
    assert_eq!(
        (&status["queue"]["dead"], &status["queue"]["waiting"]),
        (&0.into(), &0.into()),
        "{status}"
    );
}

#[test]
fn a_webhook_url_in_plain_http_to_another_host_is_refused() {
    let env = TestEnv::new("webhookcfg");
    env.patch_config(
        "[delivery]\n",
        "[[webhooks]]\nname = \"crm\"\nurl = \"http://crm.example.com/hook\"\nsecret = \"s\"\nevents = [\"deals\"]\n\n[delivery]\n",
    );
    let out = env.nurture(&["lint"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        err.contains("[[webhooks]] #1 (\"crm\"): url") && err.contains("use https://"),
        "{err}"
    );
    assert!(err.contains("\"deals\" is not one of"), "both problems at once: {err}");
}
