//! Returning mail end to end: nurture sends to a real SMTP server, the tests build bounces,
//! complaints, replies, auto-replies and mailed opt-outs from the `Message-ID`s that server
//! actually received, put them in a real Dovecot mailbox (or POST them), and judge by what the
//! next nightly run actually sends.

use crate::support::dovecot::Dovecot;
use crate::support::{TestEnv, header, http};
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
    with_inbound(
        &env,
        &format!("imap = \"{}\"\ntimeout_secs = 5\nforward_replies = true", dovecot.url()),
    );
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
    // The reply was copied to the sender (Ahmed has no agent), Reply-To Ahmed: once.
    let copies: Vec<String> = env
        .sink()
        .messages()
        .into_iter()
        .filter(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Reply from Ahmed Ali")))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(header(&copies[0], "To").unwrap().contains("sara@example.com"));
    assert!(header(&copies[0], "Reply-To").unwrap().contains("ahmed@example.com"));
    assert!(copies[0].contains("Could you call me next week"));

    // Fetched again: nothing unread. The same DSN delivered a second time: one effect.
    assert_eq!(env.json(&["inbound", "fetch", "--now", NEXT_DAY])["unread"], 0);
    dovecot.append("INBOX", &[returned("postfix-hard.eml", &id("olivia"), "olivia@example.com")]);
    let again = env.json(&["inbound", "fetch", "--now", NEXT_DAY]);
    assert_eq!(again["outcomes"]["duplicate"], 1, "{again}");
    assert_eq!(events_named(&env, "olivia@example.com", "bounce"), 1);
    assert_eq!(dovecot.list("nurture-done").len(), 7);
    let copies = env
        .sink()
        .messages()
        .iter()
        .filter(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Reply from")))
        .count();
    assert_eq!(copies, 1, "the copy is sent once");

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
    let report = env.json(&["report", "--from", ENROLLED, "--to", "2026-11-09"]);
    assert_eq!(report["reputation"]["rates"]["complaints"], 1, "{}", report["reputation"]);
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

fn post(base: &str, token: Option<&str>, raw: &[u8]) -> crate::support::HttpResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "message/rfc822")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http("POST", &format!("{base}/inbound/email"), &headers, &String::from_utf8_lossy(raw))
}

#[test]
fn http_takes_one_raw_message_with_its_token_and_acts_once() {
    let env = TestEnv::new("inbound-http");
    with_inbound(&env, "token = \"relay-token-0123456789\"\nsoft_bounce_limit = 3");
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    let ids = received(&env);
    let id = |who: &str| ids[&format!("{who}@example.com")][0].clone();
    let server = env.serve(&["--no-worker", "--no-schedule"]);
    let bounce = returned("gmail-hard.eml", &id("olivia"), "olivia@example.com");
    assert_eq!(post(&server.base, None, &bounce).status, 401);
    assert_eq!(post(&server.base, Some("guess"), &bounce).status, 403);
    assert!(
        suppression(&env, "olivia@example.com").is_none(),
        "an unverified request changes nothing"
    );
    let first = post(&server.base, Some("relay-token-0123456789"), &bounce);
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.body.contains("\"hard_bounce\""), "{}", first.body);
    assert_eq!(
        post(&server.base, Some("relay-token-0123456789"), &bounce).status,
        200,
        "a duplicate is handled too"
    );
    assert_eq!(events_named(&env, "olivia@example.com", "bounce"), 1, "once");
    assert_eq!(suppression(&env, "olivia@example.com").unwrap()["reason"], "bounce");
    // Microsoft 365's NDR and the complaint; a delay notice is understood, nothing to do.
    assert_eq!(
        post(
            &server.base,
            Some("relay-token-0123456789"),
            &returned("arf-complaint.eml", &id("grace"), "grace@example.com")
        )
        .status,
        200
    );
    assert_eq!(suppression(&env, "grace@example.com").unwrap()["reason"], "complaint");
    let delayed = post(
        &server.base,
        Some("relay-token-0123456789"),
        &returned("delayed.eml", &id("frank"), "frank@example.com"),
    );
    assert_eq!(delayed.status, 202, "{delayed:?}");
    let stranger = post(
        &server.base,
        Some("relay-token-0123456789"),
        &returned("stranger-reply.eml", &id("frank"), "frank@example.com"),
    );
    assert_eq!(stranger.status, 202);
    assert!(suppression(&env, "frank@example.com").is_none() && events_named(&env, "frank@example.com", "response") == 0);
    // The Arabic reply from Outlook: a response, by HTTP as by IMAP.
    let ar = post(
        &server.base,
        Some("relay-token-0123456789"),
        &returned("reply-outlook-arabic.eml", &id("ahmed"), "ahmed@example.com"),
    );
    assert_eq!(ar.status, 200);
    assert_eq!(events_named(&env, "ahmed@example.com", "response"), 1);
    let auto = post(
        &server.base,
        Some("relay-token-0123456789"),
        &returned("autoreply-arabic-subject.eml", &id("emma"), "emma@example.com"),
    );
    assert_eq!(auto.status, 200, "{auto:?}");
    assert!(auto.body.contains("\"auto_reply\""), "{}", auto.body);
    let unsubscribe = post(
        &server.base,
        Some("relay-token-0123456789"),
        &returned("mailto-unsubscribe.eml", "", "dana@example.com"),
    );
    assert_eq!(unsubscribe.status, 200);
    assert_eq!(suppression(&env, "dana@example.com").unwrap()["reason"], "unsubscribe");
    drop(server);

    // Soft bounces: the third in a row suppresses (one per weekly email, as a relay sends them).
    let soft = |id: &str| {
        let path = env.path().join("soft.eml");
        std::fs::write(&path, returned("exim-soft.eml", id, "ben@example.com").as_slice()).unwrap();
        // Each DSN has its own Message-ID.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("E1vQx3c-0004Ab-2k", &id.replace(['<', '>', '@'], ""));
        std::fs::write(&path, text).unwrap();
        env.json(&["inbound", "read", "soft.eml"])
    };
    soft(&id("ben"));
    let mut seen = vec![id("ben")];
    for (at, n) in [(WEEK_LATER, 2), ("2026-11-16T18:00:00Z", 3)] {
        env.json(&["run", "--now", at]);
        let latest = received(&env)["ben@example.com"]
            .iter()
            .find(|i| !seen.contains(i))
            .unwrap()
            .clone();
        seen.push(latest.clone());
        let r = soft(&latest);
        assert_eq!(r[0]["outcome"], "applied", "{r}");
        assert_eq!(
            suppression(&env, "ben@example.com").is_some(),
            n == 3,
            "after {n} soft bounces: {r} {:?}",
            history(&env, "ben@example.com")
        );
    }
    assert!(events_named(&env, "ben@example.com", "bounce") == 1);
    let sent_to_ben = counts(&env)["ben@example.com"];
    env.json(&["run", "--now", "2026-11-30T18:00:00Z"]);
    let all = counts(&env);
    assert_eq!(all["ben@example.com"], sent_to_ben, "suppressed after 3 soft bounces in a row");
    // Four weeks of runs, counted at the SMTP server: the welcome only, for those the returning
    // mail was about; the auto-reply and the stranger changed nothing.
    for once in ["olivia", "grace", "dana", "ahmed"] {
        assert_eq!(all[&format!("{once}@example.com")], 1, "{once}: {all:?}");
    }
    for more in ["emma", "frank"] {
        assert!(all[&format!("{more}@example.com")] >= 4, "{more}: {all:?}");
    }
}

#[test]
fn a_reply_cancels_its_contacts_queued_message_the_same_morning() {
    let env = TestEnv::new("inbound-pause");
    with_inbound(&env, "");
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    let ahmed_first = received(&env)["ahmed@example.com"][0].clone();
    // The nightly run queues the week-2 email; the reply to the first one comes back at 08:00;
    // the workers send at 09:00.
    let queued = env.json(&["run", "--enqueue-only", "--now", "2026-11-09T08:00:00Z"]);
    assert_eq!(queued["queued"], 7, "{queued}");
    let path = env.path().join("reply.eml");
    std::fs::write(&path, returned("reply-gmail.eml", &ahmed_first, "ahmed@example.com")).unwrap();
    let read = env.json(&["inbound", "read", "reply.eml", "--now", "2026-11-09T14:00:00Z"]);
    assert_eq!(read[0]["kind"], "reply", "{read}");
    let before = counts(&env);
    let drained = env.json(&["run", "--now", "2026-11-09T15:00:00Z"]);
    assert_eq!(drained["paused"], 1, "{drained}");
    let after = counts(&env);
    assert_eq!(
        after["ahmed@example.com"], before["ahmed@example.com"],
        "not sent the morning he answered"
    );
    assert_eq!(after["frank@example.com"], before["frank@example.com"] + 1);
    let paused = history(&env, "ahmed@example.com");
    assert!(
        paused.iter().any(|e| e["event"] == "paused" && e["touch"] == "w2-market-stats"),
        "{paused:?}"
    );
}

#[test]
fn the_complaint_guard_stops_email_until_resumed() {
    let env = TestEnv::new("inbound-guard");
    with_inbound(&env, "complaint_min_sent = 5\ncomplaint_limit = 0.3");
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    let grace = received(&env)["grace@example.com"][0].clone();
    std::fs::write(
        env.path().join("arf.eml"),
        returned("arf-complaint.eml", &grace, "grace@example.com"),
    )
    .unwrap();
    env.json(&["inbound", "read", "arf.eml", "--now", NEXT_DAY]);
    // Three texters whose w3-checkin SMS falls due on the guarded night.
    env.import(
        "first_name,phone,plan,sms_consent\nT0,+12175551000,8x8,2026-10-01\nT1,+12175551001,8x8,2026-10-01\nT2,+12175551002,8x8,2026-10-01\n",
        &["--enrolled-on", "2026-10-23"],
    );
    let texts = || env.twilio().requests().into_iter().filter(|r| r["status"] == 201).count();
    // 1 complaint in 7 emails (14 %) with at least 5 sent: the next run sends no email, and
    // every SMS of the night.
    let before = env.sink().count();
    let out = env.nurture(&["run", "--json", "--now", "2026-11-04T18:00:00Z", "--date", "2026-11-09"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("complaint rate") && stderr.contains("inbound resume"), "{stderr}");
    assert!(
        stderr.contains("email sending stopped") && !stderr.contains("sms sending stopped"),
        "{stderr}"
    );
    assert_eq!(env.sink().count(), before, "no email while the guard is tripped");
    assert_eq!(texts(), 3, "SMS goes on while email is stopped");
    let status = env.json(&["status", "--now", "2026-11-04T18:00:00Z"]);
    assert_eq!(status["reputation"]["guard"]["state"], "stop", "{status}");
    let text = env.ok(&["status"]);
    assert!(text.contains("reputation"), "{text}");
    // The operator found the cause: resume, and the queued email goes out.
    env.ok(&["inbound", "resume"]);
    let resumed = env.json(&["run", "--now", "2026-11-04T18:05:00Z", "--date", "2026-11-09"]);
    assert_eq!(resumed["sent"], 6, "7 queued, Grace suppressed: {resumed}");
    assert_eq!(resumed["suppressed"], 1, "{resumed}");
    assert_eq!(texts(), 3, "no text twice");
}

#[test]
fn a_mailbox_that_is_down_silent_or_too_big_ends_the_fetch_in_bounded_time() {
    let env = TestEnv::new("inbound-faults");
    // Down: nothing listens.
    let port = crate::support::free_port_pub();
    with_inbound(
        &env,
        &format!("imap = \"imap://bounces:secret@127.0.0.1:{port}/INBOX\"\ntimeout_secs = 2\nmax_message_bytes = 100000"),
    );
    let out = env.nurture(&["inbound", "fetch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("IMAP connect"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Silent: it accepts and never greets.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    env.patch_config(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{silent_port}"));
    let started = std::time::Instant::now();
    let out = env.nurture(&["inbound", "fetch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(8), "{:?}", started.elapsed());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no answer within 2 s"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(silent);
    // A real server with a wrong password, then a message over the size limit among good ones.
    let mut dovecot = Dovecot::start(&env.path().join("dovecot"));
    env.patch_config(
        &format!("imap://bounces:secret@127.0.0.1:{silent_port}"),
        &format!("imap://bounces:wrong@127.0.0.1:{}", dovecot.port),
    );
    let out = env.nurture(&["inbound", "fetch"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("login as bounces"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.patch_config("bounces:wrong@", "bounces:secret@");
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    let olivia = received(&env)["olivia@example.com"][0].clone();
    let mut huge = returned("reply-gmail.eml", &olivia, "olivia@example.com");
    huge.extend(std::iter::repeat_n(b'x', 150_000));
    let malformed = b"Subject: half a DSN\r\nContent-Type: multipart/report; boundary=\"X\"\r\n\r\n--X\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n".to_vec();
    dovecot.append(
        "INBOX",
        &[huge, malformed, returned("postfix-hard.eml", &olivia, "olivia@example.com")],
    );
    let r = env.json(&["inbound", "fetch"]);
    assert_eq!(r["outcomes"]["left"], 2, "{r}");
    assert_eq!(r["outcomes"]["applied"], 1, "{r}");
    assert_eq!(dovecot.list("INBOX").len(), 2, "left for a person");
    assert!(dovecot.list("INBOX").iter().all(|m| m.flags.iter().any(|f| f == "NurtureLeft")));
    assert_eq!(env.json(&["inbound", "fetch"])["unread"], 0, "not read again");
    // The server stops: the next fetch fails fast; what was handled stays handled.
    dovecot.stop();
    assert_eq!(env.nurture(&["inbound", "fetch"]).status.code(), Some(1));
    assert_eq!(suppression(&env, "olivia@example.com").unwrap()["reason"], "bounce");
}

#[test]
fn a_forgotten_persons_returning_mail_writes_nothing_about_them() {
    let env = TestEnv::new("inbound-forget");
    with_inbound(&env, "");
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    let id = received(&env)["dana@example.com"][0].clone();
    env.json(&["forget", "dana@example.com"]);
    for (name, file) in [
        ("postfix-hard.eml", "a.eml"),
        ("reply-gmail.eml", "b.eml"),
        ("arf-complaint.eml", "c.eml"),
    ] {
        std::fs::write(env.path().join(file), returned(name, &id, "dana@example.com")).unwrap();
    }
    let r = env.json(&["inbound", "read", "a.eml", "b.eml", "c.eml"]);
    for one in r.as_array().unwrap() {
        assert_ne!(one["outcome"], "applied", "{r}");
    }
    let traces: Vec<_> = env
        .dump()
        .into_iter()
        .filter(|(k, v)| k.contains("dana") || v.contains("dana"))
        .collect();
    assert!(traces.is_empty(), "{traces:?}");
}

/// Runs openssl in `dir`; panics on failure.
fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `openssl dgst -<digest> -sign key.pem` of `text`, base64.
fn sign(dir: &std::path::Path, digest: &str, text: &str) -> String {
    use base64::Engine;
    std::fs::write(dir.join("to-sign"), text).unwrap();
    let sig = openssl(dir, &["dgst", &format!("-{digest}"), "-sign", "key.pem", "to-sign"]);
    base64::engine::general_purpose::STANDARD.encode(sig)
}

fn mailgun_body(key: &str, token: &str, timestamp: i64, event: serde_json::Value) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    serde_json::json!({"signature": {"timestamp": timestamp.to_string(), "token": token, "signature": signature}, "event-data": event})
        .to_string()
}

/// A signed SNS message (SignatureVersion `version`) of `kind` with `fields`.
fn sns(dir: &std::path::Path, version: &str, cert_url: &str, topic: &str, kind: &str, fields: &[(&str, &str)]) -> String {
    let mut v = serde_json::json!({"Type": kind, "MessageId": format!("sns-{}", fields.len()), "TopicArn": topic,
        "Timestamp": "2026-11-03T15:00:00.000Z", "SignatureVersion": version, "SigningCertURL": cert_url});
    for (k, val) in fields {
        v[*k] = serde_json::Value::String(val.to_string());
    }
    let names: &[&str] = if kind == "Notification" {
        &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    } else {
        &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    };
    let mut text = String::new();
    for n in names {
        if let Some(x) = v[*n].as_str() {
            text.push_str(&format!("{n}\n{x}\n"));
        }
    }
    v["Signature"] = serde_json::Value::String(sign(dir, if version == "2" { "sha256" } else { "sha1" }, &text));
    v.to_string()
}

#[test]
fn provider_webhooks_are_verified_each_their_own_way_and_act_once() {
    let env = TestEnv::new("inbound-providers");
    let keys = env.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    // SendGrid's key pair (P-256), SNS's certificate (RSA-2048), both the tests' own.
    let ec = env.path().join("ec");
    std::fs::create_dir_all(&ec).unwrap();
    openssl(&ec, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem"]);
    let spki = openssl(&ec, &["ec", "-in", "key.pem", "-pubout", "-outform", "DER"]);
    let sendgrid_key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(spki)
    };
    openssl(
        &keys,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sns.test",
        ],
    );
    std::fs::write(keys.join("confirm"), "confirmed").unwrap();
    // The certificate server (and the subscription link), with its request log.
    let port = crate::support::free_port_pub();
    let log = std::fs::File::create(env.path().join("http.log")).unwrap();
    let mut certs = std::process::Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1"])
        .current_dir(&keys)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    crate::support::wait_for_port_pub(port);
    let cert_url = format!("http://127.0.0.1:{port}/cert.pem");
    let topic = "arn:aws:sns:us-east-1:123456789012:ses-returns";
    with_inbound(
        &env,
        &format!(
            "[inbound.mailgun]\nsigning_key = \"mg-key\"\n[inbound.sendgrid]\npublic_key = \"{sendgrid_key}\"\n[inbound.ses]\ntopic_arn = \"{topic}\"\ncertificate_url_prefix = \"http://127.0.0.1:{port}/\"\n[inbound.postmark]\nuser = \"hooks\"\npassword = \"pm-secret\""
        ),
    );
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    let ids = received(&env);
    let id = |who: &str| ids[&format!("{who}@example.com")][0].clone();
    let server = env.serve(&["--no-worker", "--no-schedule"]);
    let url = |p: &str| format!("{}/inbound/{p}", server.base);
    let json = [("Content-Type", "application/json")];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    // Mailgun: HMAC of timestamp + token; a token once; 406 for anything it should not retry.
    let failed = |who: &str| {
        serde_json::json!({"id": format!("mg-{who}"), "event": "failed", "severity": "permanent",
        "recipient": format!("{who}@example.com"), "message": {"headers": {"message-id": id(who).trim_matches(['<', '>'])}},
        "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"}})
    };
    let first = http(
        "POST",
        &url("mailgun"),
        &json,
        &mailgun_body("mg-key", "tok-1", now, failed("olivia")),
    );
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(suppression(&env, "olivia@example.com").unwrap()["reason"], "bounce");
    assert_eq!(
        http(
            "POST",
            &url("mailgun"),
            &json,
            &mailgun_body("mg-key", "tok-1", now, failed("olivia"))
        )
        .status,
        406,
        "a token twice"
    );
    assert_eq!(
        http(
            "POST",
            &url("mailgun"),
            &json,
            &mailgun_body("mg-key", "tok-2", now, failed("olivia"))
        )
        .status,
        200,
        "the same event again: once"
    );
    assert_eq!(events_named(&env, "olivia@example.com", "bounce"), 1);
    assert_eq!(
        http(
            "POST",
            &url("mailgun"),
            &json,
            &mailgun_body("guess", "tok-3", now, failed("frank"))
        )
        .status,
        406
    );
    assert_eq!(
        http(
            "POST",
            &url("mailgun"),
            &json,
            &mailgun_body("mg-key", "tok-4", now - 3600, failed("frank"))
        )
        .status,
        406,
        "an old timestamp"
    );
    assert_eq!(http("POST", &url("mailgun"), &json, r#"{"event-data": {}}"#).status, 401);
    let mut foreign = failed("frank");
    foreign["message"]["headers"]["message-id"] = serde_json::json!("0123@elsewhere.example");
    assert_eq!(
        http("POST", &url("mailgun"), &json, &mailgun_body("mg-key", "tok-5", now, foreign)).status,
        202,
        "not our message"
    );
    assert!(suppression(&env, "frank@example.com").is_none());

    // SendGrid: an ECDSA signature over timestamp + body; a batch of events.
    let batch = serde_json::json!([
        {"email": "ben@example.com", "event": "bounce", "type": "bounce", "status": "5.1.1", "reason": "550 5.1.1 unknown", "sg_event_id": "sg-1", "smtp-id": id("ben")},
        {"email": "grace@example.com", "event": "spamreport", "sg_event_id": "sg-2", "smtp-id": id("grace")},
        {"email": "frank@example.com", "event": "delivered", "sg_event_id": "sg-3", "smtp-id": id("frank")}
    ])
    .to_string();
    let ts = now.to_string();
    let sig = sign(&ec, "sha256", &format!("{ts}{batch}"));
    let signed = [
        ("Content-Type", "application/json"),
        ("X-Twilio-Email-Event-Webhook-Signature", sig.as_str()),
        ("X-Twilio-Email-Event-Webhook-Timestamp", ts.as_str()),
    ];
    assert_eq!(http("POST", &url("sendgrid"), &json, &batch).status, 401, "unsigned");
    assert_eq!(
        http("POST", &url("sendgrid"), &signed, &batch.replace("ben@", "bee@")).status,
        403,
        "altered"
    );
    assert!(suppression(&env, "ben@example.com").is_none());
    let sg = http("POST", &url("sendgrid"), &signed, &batch);
    assert_eq!(sg.status, 200, "{sg:?}");
    assert_eq!(suppression(&env, "ben@example.com").unwrap()["reason"], "bounce");
    assert_eq!(suppression(&env, "grace@example.com").unwrap()["reason"], "complaint");

    // SES through SNS: the subscription handshake, then signed notifications (v2 and v1).
    let confirm_url = format!("http://127.0.0.1:{port}/confirm");
    let handshake = sns(
        &keys,
        "1",
        &cert_url,
        topic,
        "SubscriptionConfirmation",
        &[("Message", "confirm"), ("SubscribeURL", &confirm_url), ("Token", "t0k")],
    );
    assert_eq!(http("POST", &url("ses"), &json, &handshake).status, 200);
    assert!(
        std::fs::read_to_string(env.path().join("http.log"))
            .unwrap()
            .contains("GET /confirm"),
        "the subscription was confirmed"
    );
    let complaint =
        serde_json::json!({"notificationType": "Complaint", "complaint": {"feedbackId": "fb-1", "complaintFeedbackType": "abuse",
        "complainedRecipients": [{"emailAddress": "dana@example.com"}]}, "mail": {"commonHeaders": {"messageId": id("dana")}}})
        .to_string();
    let bounce = serde_json::json!({"notificationType": "Bounce", "bounce": {"feedbackId": "fb-2", "bounceType": "Permanent",
        "bouncedRecipients": [{"emailAddress": "emma@example.com", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 no such user"}]},
        "mail": {"commonHeaders": {"messageId": id("emma")}}})
    .to_string();
    let v2 = sns(&keys, "2", &cert_url, topic, "Notification", &[("Message", &complaint)]);
    let v1 = sns(
        &keys,
        "1",
        &cert_url,
        topic,
        "Notification",
        &[("Message", &bounce), ("Subject", "Amazon SES Email Event Notification")],
    );
    let other_topic = sns(
        &keys,
        "2",
        &cert_url,
        "arn:aws:sns:us-east-1:999:other",
        "Notification",
        &[("Message", &bounce)],
    );
    assert_eq!(http("POST", &url("ses"), &json, &other_topic).status, 403);
    let elsewhere = v2.replace(&format!("127.0.0.1:{port}"), "evil.example");
    assert_eq!(
        http("POST", &url("ses"), &json, &elsewhere).status,
        403,
        "a certificate from elsewhere"
    );
    let forged = v2.replace("abuse", "fraud");
    assert_eq!(http("POST", &url("ses"), &json, &forged).status, 403, "altered after signing");
    assert!(suppression(&env, "dana@example.com").is_none());
    assert_eq!(http("POST", &url("ses"), &json, &v2).status, 200);
    assert_eq!(http("POST", &url("ses"), &json, &v1).status, 200);
    assert_eq!(http("POST", &url("ses"), &json, &v1).status, 200, "SNS delivers again: once");
    assert_eq!(suppression(&env, "dana@example.com").unwrap()["reason"], "complaint");
    assert_eq!(suppression(&env, "emma@example.com").unwrap()["reason"], "bounce");
    assert_eq!(events_named(&env, "emma@example.com", "bounce"), 1);
    // Postmark: basic auth; the delivery comes back in the metadata nurture put on the message.
    let welcome = env
        .sink()
        .messages()
        .into_iter()
        .find(|m| header(m, "To").is_some_and(|t| t.contains("ahmed@")))
        .unwrap();
    let reference = header(&welcome, "X-PM-Metadata-nurture").expect("the metadata header");
    let pm = serde_json::json!({"RecordType": "Bounce", "ID": 4323372036854775807u64, "Type": "HardBounce", "Email": "ahmed@example.com",
        "Description": "The server was unable to deliver your message", "Details": "smtp;550 5.1.1 unknown", "Metadata": {"nurture": reference}}).to_string();
    use base64::Engine;
    let basic = |cred: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(cred));
    let (good, bad) = (basic("hooks:pm-secret"), basic("hooks:guess"));
    assert_eq!(http("POST", &url("postmark"), &json, &pm).status, 401);
    assert_eq!(http("POST", &url("postmark"), &[("Authorization", bad.as_str())], &pm).status, 403);
    assert!(suppression(&env, "ahmed@example.com").is_none());
    assert_eq!(http("POST", &url("postmark"), &[("Authorization", good.as_str())], &pm).status, 200);
    assert_eq!(
        http("POST", &url("postmark"), &[("Authorization", good.as_str())], &pm).status,
        200,
        "again: once"
    );
    assert_eq!(suppression(&env, "ahmed@example.com").unwrap()["reason"], "bounce");
    assert_eq!(events_named(&env, "ahmed@example.com", "bounce"), 1);
    // Unconfigured providers are not there.
    assert_eq!(http("POST", &url("sparkpost"), &json, "{}").status, 404);
    drop(server);
    let _ = certs.kill();
    let _ = certs.wait();

    // The next week, counted at the SMTP server: only those no event was about are mailed.
    let before = counts(&env);
    env.json(&["run", "--now", WEEK_LATER]);
    let after = counts(&env);
    for (who, more) in [
        ("olivia", 0),
        ("ben", 0),
        ("grace", 0),
        ("dana", 0),
        ("emma", 0),
        ("frank", 1),
        ("ahmed", 0),
    ] {
        let key = format!("{who}@example.com");
        assert_eq!(after[&key] - before[&key], more, "{who}: {after:?}");
    }
}

#[test]
fn a_reply_whose_copy_to_the_agent_fails_is_recorded_once_and_copied_later() {
    let env = TestEnv::new("inbound-forward");
    with_inbound(&env, "forward_replies = true");
    env.patch_config(
        "[delivery]\n",
        "[agents.omar]\nname = \"Omar Agent\"\nemail = \"omar@agents.example.com\"\n\n[delivery]\n",
    );
    env.import(
        "first_name,last_name,email,plan,agent\nAhmed,Ali,ahmed@example.com,8x8,omar\n",
        &["--enrolled-on", ENROLLED],
    );
    env.json(&["run", "--now", FIRST]);
    let id = received(&env)["ahmed@example.com"][0].clone();
    // Omar's agenda email of the night.
    let agenda = counts(&env)["omar@agents.example.com"];
    std::fs::write(env.path().join("reply.eml"), returned("reply-gmail.eml", &id, "ahmed@example.com")).unwrap();
    // The relay is away: the response is recorded, the copy waits.
    let port = env.sink().port;
    let closed = crate::support::free_port_pub();
    env.patch_config(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{closed}"));
    let out = env.nurture(&["inbound", "read", "reply.eml", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("busy"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(events_named(&env, "ahmed@example.com", "response"), 1);
    // Back: the same message again copies it, and records nothing twice.
    env.patch_config(&format!("127.0.0.1:{closed}"), &format!("127.0.0.1:{port}"));
    let again = env.json(&["inbound", "read", "reply.eml"]);
    assert_eq!(again[0]["outcome"], "duplicate", "{again}");
    assert_eq!(events_named(&env, "ahmed@example.com", "response"), 1);
    assert_eq!(counts(&env)["omar@agents.example.com"], agenda + 1, "{:?}", counts(&env));
    let copy = env
        .sink()
        .messages()
        .into_iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.starts_with("Reply from")))
        .unwrap();
    assert!(header(&copy, "To").unwrap().contains("omar@agents.example.com"));
    env.json(&["inbound", "read", "reply.eml"]);
    assert_eq!(counts(&env)["omar@agents.example.com"], agenda + 1, "copied once");
}

#[test]
fn a_bounce_that_quotes_nothing_is_matched_by_its_verp_return_path() {
    let env = TestEnv::new("inbound-verp");
    with_inbound(&env, "return_path = \"bounces@example.com\"");
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    // The envelope sender the SMTP server received: bounces+TAG@example.com, one tag per message.
    let olivia = env
        .sink()
        .messages()
        .into_iter()
        .find(|m| header(m, "To").is_some_and(|t| t.contains("olivia@")))
        .unwrap();
    let mail_from = header(&olivia, "X-Mail-Args").unwrap_or_default();
    let tag = mail_from
        .split_once("bounces+")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(t, _)| t.to_string())
        .unwrap_or_else(|| panic!("no VERP envelope sender in {mail_from:?}"));
    assert_eq!(tag.len(), 20, "{mail_from}");
    let envelopes: std::collections::BTreeSet<String> = env.sink().messages().iter().filter_map(|m| header(m, "X-Mail-Args")).collect();
    assert_eq!(envelopes.len(), 7, "a tag of its own for each message: {envelopes:?}");
    // A qmail-style bounce to that address, quoting nothing of the original.
    let bare = String::from_utf8(returned("qmail-plain.eml", "", "olivia@example.com"))
        .unwrap()
        .replace("To: sara@example.com", &format!("To: bounces+{tag}@example.com"))
        .replace("Message-ID: \r\n", "");
    std::fs::write(env.path().join("bare.eml"), &bare).unwrap();
    let r = env.json(&["inbound", "read", "bare.eml"]);
    assert_eq!(
        (r[0]["kind"].as_str(), r[0]["outcome"].as_str()),
        (Some("hard_bounce"), Some("applied")),
        "{r}"
    );
    assert_eq!(suppression(&env, "olivia@example.com").unwrap()["reason"], "bounce");
    let bounce = history(&env, "olivia@example.com")
        .into_iter()
        .find(|e| e["event"] == "bounce")
        .unwrap();
    assert_eq!(bounce["touch"], "w1-welcome", "{bounce}");
    // A tag nurture never gave changes nothing.
    let forged = bare
        .replace(&tag, "0123456789abcdef0123")
        .replace("qmail-bounce-77", "qmail-bounce-78");
    std::fs::write(env.path().join("forged.eml"), forged).unwrap();
    let r = env.json(&["inbound", "read", "forged.eml"]);
    assert_ne!(r[0]["outcome"], "applied", "{r}");
}

/// A TCP proxy in front of `upstream` that cuts its first connection after the server has
/// sent `cut_after` bytes (a mailbox dropping the connection mid-fetch); later connections
/// pass whole. Returns its port.
fn cutting_proxy(upstream: u16, cut_after: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
            });
            std::thread::spawn(move || {
                let limit = if n == 0 { cut_after } else { usize::MAX };
                let mut sent = 0;
                let mut buf = [0u8; 4096];
                while let Ok(k) = server.read(&mut buf) {
                    if k == 0 {
                        break;
                    }
                    let k = k.min(limit - sent);
                    if client.write_all(&buf[..k]).is_err() {
                        break;
                    }
                    sent += k;
                    if sent >= limit {
                        break;
                    }
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn a_connection_dropped_mid_fetch_leaves_nothing_half_applied_and_the_next_fetch_finishes() {
    let env = TestEnv::new("inbound-drop");
    let dovecot = Dovecot::start(&env.path().join("dovecot"));
    env.import(PEOPLE, &["--enrolled-on", ENROLLED]);
    env.json(&["run", "--now", FIRST]);
    let ids = received(&env);
    let people = ["olivia", "ben", "grace", "ahmed", "dana", "emma", "frank"];
    // Three hard bounces per person (three relays' DSNs, each its own message, so the mailbox
    // is long enough to be cut in the middle of the bodies): 21 messages, each to act once.
    let mut mailbox = Vec::new();
    for copy in 0..3 {
        for who in people {
            let raw = String::from_utf8(returned(
                "postfix-hard.eml",
                &ids[&format!("{who}@example.com")][0],
                &format!("{who}@example.com"),
            ))
            .unwrap()
            .replace("4Zx1R62ZbTz1@mail", &format!("{who}-{copy}@mail"));
            mailbox.push(raw.into_bytes());
        }
    }
    dovecot.append("INBOX", &mailbox);
    let proxy = cutting_proxy(dovecot.port, 30_000);
    with_inbound(
        &env,
        &format!("imap = \"imap://bounces:secret@127.0.0.1:{proxy}/INBOX\"\ntimeout_secs = 3"),
    );
    let started = std::time::Instant::now();
    let cut = env.nurture(&["inbound", "fetch", "--json"]);
    assert_eq!(
        cut.status.code(),
        Some(1),
        "the dropped connection is an error: {}",
        String::from_utf8_lossy(&cut.stdout)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    let handled_before: usize = people
        .iter()
        .map(|who| events_named(&env, &format!("{who}@example.com"), "bounce"))
        .sum();
    assert!(handled_before < 21, "cut before the end: {handled_before} handled");
    assert!(dovecot.list("INBOX").len() > 7, "most messages are still waiting");
    // The next fetch (a whole connection) finishes: each message acted once, every one moved.
    let next = env.json(&["inbound", "fetch"]);
    assert_eq!(next["outcomes"]["left"], serde_json::Value::Null, "{next}");
    for who in people {
        assert_eq!(events_named(&env, &format!("{who}@example.com"), "bounce"), 3, "{who}: {next}");
        assert_eq!(suppression(&env, &format!("{who}@example.com")).unwrap()["reason"], "bounce");
    }
    assert_eq!(dovecot.list("INBOX").len(), 0, "{next}");
    assert_eq!(dovecot.list("nurture-done").len(), 21);
}
