//! Returning mail end to end: nurture sends to a real SMTP server, the tests build bounces,
//! complaints, replies, auto-replies and mailed opt-outs from the `Message-ID`s that server
//! actually received, put them in a real Dovecot mailbox (or POST them), and judge by what the
//! next nightly run actually sends.

use crate::support::dovecot::Dovecot;
use crate::support::{TestEnv, header};
use std::collections::BTreeMap;

const PEOPLE: &str = "first_name,last_name,email,plan\n\
Olivia,Bennett,olivia@example.com,8x8\n\
Ben,Soft,ben@example.com,8x8\n\
Grace,Kim,grace@example.com,8x8\n\
Ahmed,Ali,ahmed@example.com,8x8\n\
Dana,Out,dana@example.com,8x8\n\
Emma,Away,emma@example.com,8x8\n\
Frank,Quiet,frank@example.com,8x8\n";

/// Enrolled on a Monday: the welcome email goes that evening, the market statistics a week
/// later.
const ENROLLED: &str = "2026-11-02";
const FIRST: &str = "2026-11-02T18:00:00Z";
const WEEK_LATER: &str = "2026-11-09T18:00:00Z";
/// When the returning mail is read (the day after the first emails).
const NEXT_DAY: &str = "2026-11-03T15:00:00Z";

/// recipient address → the `Message-ID`s the SMTP server received for it.
fn received(env: &TestEnv) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in env.sink().messages() {
        let to = header(&m, "To").unwrap_or_default();
        let address = to
            .rsplit_once('<')
            .map_or(to.as_str(), |(_, a)| a.trim_end_matches('>'))
            .to_lowercase();
        out.entry(address).or_default().push(header(&m, "Message-ID").unwrap_or_default());
    }
    out
}

fn counts(env: &TestEnv) -> BTreeMap<String, usize> {
    received(env).into_iter().map(|(k, v)| (k, v.len())).collect()
}

/// A fixture of `tests/fixtures/inbound/` about the message `id` sent to `rcpt`.
fn returned(name: &str, id: &str, rcpt: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inbound")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .replace("{{MESSAGE_ID}}", id)
        .replace("{{RCPT}}", rcpt)
        .replace('\n', "\r\n")
        .into_bytes()
}

fn history(env: &TestEnv, contact: &str) -> Vec<serde_json::Value> {
    let raw: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{}:history:{contact}", env.prefix))
        .arg(0)
        .arg(-1)
        .query(&mut env.redis())
        .unwrap();
    raw.iter().map(|j| serde_json::from_str(j).unwrap()).collect()
}

fn events_named(env: &TestEnv, contact: &str, name: &str) -> usize {
    history(env, contact).iter().filter(|e| e["event"] == name).count()
}

fn suppression(env: &TestEnv, address: &str) -> Option<serde_json::Value> {
    let raw: Option<String> = redis::cmd("HGET")
        .arg(format!("{}:suppression:email", env.prefix))
        .arg(address)
        .query(&mut env.redis())
        .unwrap();
    raw.map(|r| serde_json::from_str(&r).unwrap())
}

fn with_inbound(env: &TestEnv, inbound: &str) {
    env.patch_config("[unsubscribe]\n", "[unsubscribe]\nmailto = \"unsubscribe@example.com\"\n");
    env.patch_config("[delivery]\n", &format!("[inbound]\n{inbound}\n\n[delivery]\n"));
}

#[test]
fn every_kind_of_returning_mail_from_imap_changes_what_the_next_run_sends() {
    let env = TestEnv::new("inbound-imap");
    let dovecot = Dovecot::start(&env.path().join("dovecot"));
    with_inbound(&env, &format!("imap = \"{}\"\ntimeout_secs = 5", dovecot.url()));
    assert_eq!(env.import(PEOPLE, &["--enrolled-on", ENROLLED])["created"], 7);
    let first = env.json(&["run", "--now", FIRST]);
    assert_eq!(first["sent"], 7, "{first}");
    let ids = received(&env);
    let id = |who: &str| ids[&format!("{who}@example.com")][0].clone();
    let mailbox = vec![
        returned("postfix-hard.eml", &id("olivia"), "olivia@example.com"),
        returned("exim-soft.eml", &id("ben"), "ben@example.com"),
        returned("arf-complaint.eml", &id("grace"), "grace@example.com"),
        returned("reply-gmail.eml", &id("ahmed"), "ahmed@example.com"),
        returned("mailto-unsubscribe.eml", "", "dana@example.com"),
        returned("autoreply-exchange.eml", &id("emma"), "emma@example.com"),
        returned("stranger-reply.eml", &id("frank"), "frank@example.com"),
        returned("foreign-dsn.eml", "", "frank@example.com"),
    ];
    dovecot.append("INBOX", &mailbox);

    let report = env.json(&["inbound", "fetch", "--now", NEXT_DAY]);
    assert_eq!(report["unread"], 8, "{report}");
    assert_eq!(report["outcomes"]["applied"], 6, "{report}");
    assert_eq!(report["outcomes"]["left"], 2, "the stranger's reply and the foreign DSN: {report}");
    assert_eq!(report["moved"], 6, "{report}");
    for kind in ["bounce", "soft_bounce", "complaint", "response", "unsubscribed", "auto_reply"] {
        assert!(report["kinds"][kind].as_u64() >= Some(1), "{kind}: {report}");
    }

    // The mailbox: what was handled is read and moved; the rest waits, unread, for a person.
    let done = dovecot.list("nurture-done");
    assert_eq!(done.len(), 6, "{done:?}");
    assert!(done.iter().all(|m| m.flags.iter().any(|f| f == "\\Seen")), "{done:?}");
    let inbox = dovecot.list("INBOX");
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(
        inbox.iter().all(|m| !m.flags.iter().any(|f| f == "\\Seen")),
        "left unread: {inbox:?}"
    );

    // Each effect, once, with its evidence.
    assert_eq!(suppression(&env, "olivia@example.com").unwrap()["reason"], "bounce");
    assert_eq!(suppression(&env, "grace@example.com").unwrap()["reason"], "complaint");
    assert_eq!(suppression(&env, "dana@example.com").unwrap()["reason"], "unsubscribe");
    assert!(suppression(&env, "ben@example.com").is_none(), "one soft bounce only counts");
    assert!(
        suppression(&env, "frank@example.com").is_none(),
        "a stranger's mail changes nothing"
    );
    let olivia = history(&env, "olivia@example.com");
    let bounce = olivia.iter().find(|e| e["event"] == "bounce").unwrap();
    assert!(bounce["detail"].as_str().unwrap().starts_with("5.1.1"), "{bounce}");
    assert_eq!(bounce["touch"], "w1-welcome");
    let ahmed = history(&env, "ahmed@example.com");
    let response = ahmed.iter().find(|e| e["event"] == "response").unwrap();
    assert!(
        response["detail"].as_str().unwrap().contains("Could you call me next week"),
        "{response}"
    );
    assert!(
        ahmed
            .iter()
            .any(|e| e["event"] == "stage" && e["detail"].as_str().unwrap().contains("new → contacted"))
    );
    assert_eq!(events_named(&env, "emma@example.com", "auto_reply"), 1);
    assert_eq!(
        events_named(&env, "emma@example.com", "response"),
        0,
        "an auto-reply is never a response"
    );
    assert_eq!(events_named(&env, "grace@example.com", "complaint"), 1);
    assert_eq!(events_named(&env, "ben@example.com", "soft_bounce"), 1);
    assert_eq!(events_named(&env, "frank@example.com", "response"), 0);

    // Fetched again: nothing unread. The same DSN delivered a second time: one effect.
    assert_eq!(env.json(&["inbound", "fetch", "--now", NEXT_DAY])["unread"], 0);
    dovecot.append("INBOX", &[returned("postfix-hard.eml", &id("olivia"), "olivia@example.com")]);
    let again = env.json(&["inbound", "fetch", "--now", NEXT_DAY]);
    assert_eq!(again["outcomes"]["duplicate"], 1, "{again}");
    assert_eq!(events_named(&env, "olivia@example.com", "bounce"), 1);
    assert_eq!(dovecot.list("nurture-done").len(), 7);

    // The next week's run, counted at the SMTP server: the bounced, the complainer, the
    // unsubscribed and the one who answered get nothing more; the others get the next touch.
    let before = counts(&env);
    let week = env.json(&["run", "--now", WEEK_LATER]);
    assert_eq!(week["failed"], 0, "{week}");
    let after = counts(&env);
    let got = |who: &str| after[&format!("{who}@example.com")] - before[&format!("{who}@example.com")];
    for silent in ["olivia", "grace", "dana", "ahmed"] {
        assert_eq!(got(silent), 0, "{silent}: {after:?}");
    }
    for reached in ["ben", "emma", "frank"] {
        assert_eq!(got(reached), 1, "{reached}: {after:?}");
    }
    // The report counts the complaint and the mailed opt-out as unsubscribes, the bounce as failed.
    let report = env.json(&["report", "--from", ENROLLED, "--to", "2026-11-10"]);
    let total = &report["total"];
    assert_eq!(total["unsubscribed"], 2, "{total}");
    assert!(total["responded"].as_u64() >= Some(1), "{total}");
    let status = env.json(&["status", "--now", WEEK_LATER]);
    assert_eq!(status["reputation"]["rates"]["complaints"], 1, "{status}");
    assert_eq!(status["reputation"]["rates"]["bounces"], 1, "{status}");
    assert_eq!(
        status["reputation"]["rates"]["emails_sent"], 3,
        "the window 11-03..11-09 holds the second run only: {status}"
    );
    assert_eq!(
        status["reputation"]["guard"]["state"], "warn",
        "1 in 3 is over 0.3 %, under 1,000 emails: {status}"
    );
}
