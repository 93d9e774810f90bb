//! Plans as the practice describes them: 8x8 → 33 Touch for responders and → 12 Direct for
//! non-responders, responses that pause a plan, calendar touches every year once, send times
//! in each contact's timezone, plan edits, and the agent's day.

use crate::support::{TestEnv, header, http};
use crate::{CONTACTS, DATE, parse};
use chrono::{TimeZone, Timelike};
use nurture::clock::Clock;
use std::time::{Duration, Instant};

fn show(env: &TestEnv, who: &str) -> String {
    env.ok(&["contact", "show", who])
}

#[test]
fn responders_move_on_non_responders_are_demoted_and_history_tells_why() {
    let env = TestEnv::new("lifecycle");
    // 8x8's last touch is at 7 weeks (49 days): enrolled 49 days before DATE it is due today.
    env.import(
        "email,phone,plan\nresp@example.com,(217) 201-0150,8x8\nquiet@example.com,(217) 201-0151,8x8\n",
        &["--enrolled-on", "2026-10-02"],
    );
    env.ok(&[
        "record",
        "response",
        "resp@example.com",
        "--channel",
        "call",
        "--note",
        "Wants to sell in spring",
        "--date",
        "2026-10-10",
    ]);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!((s["moved"].as_u64(), s["demoted"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(s["agenda"], 3, "two referral calls and the responder's follow-up: {s}");
    let csv = env.ok(&["agenda", "--date", DATE, "--format", "csv"]);
    assert!(csv.contains("w8-referral-call") && csv.contains("+12172010150"), "{csv}");
    let md = env.ok(&["agenda", "--date", DATE]);
    let first = md.lines().find(|l| l.starts_with("- [ ]")).unwrap();
    assert!(
        first.contains("follow-up") && first.contains("**overdue** since 2026-10-10"),
        "overdue first: {md}"
    );
    assert!(md.contains("who else do you know"), "{md}");
    let resp = show(&env, "resp@example.com");
    for want in [
        "plan         33-touch since 2026-11-21",
        "earlier      8x8",
        "responded    2026-10-10",
        "response     8x8 — call: Wants to sell in spring",
        "agenda       8x8 / w8-referral-call",
        "moved        33-touch — from 8x8: finished the plan",
    ] {
        assert!(resp.contains(want), "missing {want:?} in:\n{resp}");
    }
    let quiet = show(&env, "+1 217 201 0151");
    assert!(
        quiet.contains("plan         12-direct since 2026-11-21")
            && quiet.contains("moved        12-direct — from 8x8: no response after 10 touches"),
        "{quiet}"
    );
    // The next day each runs its new plan: 12 Direct starts with a letter, 33 Touch has nothing yet.
    let s = env.json(&["run", "--date", "2026-11-21"]);
    assert_eq!((s["queued"].as_u64(), s["sent"].as_u64()), (Some(1), Some(1)), "{s}");
    let m = env.sink().messages();
    assert_eq!(parse(&m[0]).subject(), Some("A short note from your local agent"));
    assert!(m[0].contains("<quiet@example.com>"));
    assert!(show(&env, "quiet@example.com").contains("sent         12-direct / month-01"));
}

#[test]
fn a_response_pauses_automated_touches_and_opens_a_follow_up() {
    let env = TestEnv::new("pause");
    env.import(
        "email,first_name,plan\npause@example.com,Pat,8x8\n",
        &["--enrolled-on", "2026-11-13"],
    );
    let s = env.json(&["run", "--date", "2026-11-13"]);
    assert_eq!(s["sent"], 1, "the welcome email: {s}");
    env.ok(&[
        "record",
        "response",
        "pause@example.com",
        "--channel",
        "email",
        "--date",
        "2026-11-15",
    ]);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!(
        (s["paused"].as_u64(), s["queued"].as_u64()),
        (Some(1), Some(0)),
        "w2 is paused: {s}"
    );
    assert_eq!(env.sink().count(), 1, "nothing more was sent");
    let agenda = env.ok(&["agenda", "--date", DATE]);
    assert!(agenda.contains("Pat") && agenda.contains("Responded on 2026-11-15"), "{agenda}");
    assert!(show(&env, "pause@example.com").contains("paused       8x8 / w2-market-stats — the contact responded"));
    // Marked once: the same date again pauses nothing new and opens nothing new.
    let again = env.json(&["run", "--date", DATE]);
    assert_eq!((again["agenda"].as_u64(), again["sent"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(show(&env, "pause@example.com").matches(" paused ").count(), 1);
}

#[test]
fn inbound_sms_and_crm_events_are_responses_and_deals() {
    let env = TestEnv::new("events");
    env.patch_config(
        "[unsubscribe]\n",
        "[server]\nevents_token = \"ev-token-0123456789\"\n\n[unsubscribe]\n",
    );
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    // A text that is not a keyword, from a contact's number: a response.
    let params = vec![
        ("From".to_string(), "+12172010142".to_string()),
        ("Body".to_string(), "Sounds good, call me after 5".to_string()),
    ];
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let sig = nurture::compliance::sms::twilio_signature("test-token", "http://127.0.0.1:8080/sms/inbound", &params);
    let r = http(
        "POST",
        &format!("{}/sms/inbound", server.base),
        &[("Content-Type", "application/x-www-form-urlencoded"), ("X-Twilio-Signature", &sig)],
        &form,
    );
    assert_eq!(r.status, 200);
    let olivia: serde_json::Value = serde_json::from_str(&env.ok(&["contact", "show", "olivia.bennett@example.com", "--json"])).unwrap();
    assert!(olivia["contact"]["responded_on"].is_string(), "{olivia}");
    assert!(show(&env, "olivia.bennett@example.com").contains("sms: Sounds good, call me after 5"));
    // POST /events: bearer token, one event or many; a bad one does not stop the others.
    let events = format!("{}/events", server.base);
    let json = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer ev-token-0123456789"),
    ];
    let one = r#"{"type":"response","contact":"grace@example.com","channel":"web","note":"open house form","date":"2026-11-21"}"#;
    assert_eq!(http("POST", &events, &[("Content-Type", "application/json")], one).status, 401);
    assert_eq!(http("POST", &events, &[("Authorization", "Bearer nope")], one).status, 401);
    let r = http("POST", &events, &json, one);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"errors":[],"recorded":1}"#));
    let many = r#"[{"type":"deal","contact":"+966 50 123 4567","value":350000,"note":"villa"},{"type":"response","contact":"nobody@example.com"}]"#;
    let r = http("POST", &events, &json, many);
    assert_eq!(r.status, 422);
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["recorded"], 1);
    assert!(
        body["errors"][0].as_str().unwrap().contains("no contact \"nobody@example.com\""),
        "{body}"
    );
    assert_eq!(http("POST", &events, &json, "{not json").status, 400);
    assert!(show(&env, "grace@example.com").contains("response     8x8 — web: open house form"));
    assert!(show(&env, "ahmed@example.com").contains("deal         8x8 — 350000: villa"));
    // By hand, with the CLI.
    env.ok(&[
        "record",
        "deal",
        "grace@example.com",
        "--value",
        "12500.5",
        "--note",
        "rental",
        "--date",
        DATE,
    ]);
    assert!(show(&env, "grace@example.com").contains("deal         8x8 — 12500.5: rental"));
    let bad = env.nurture(&["record", "deal", "grace@example.com", "--value=-3"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("above 0"));
}

#[test]
fn the_agents_day_rolls_over_until_done_and_is_emailed_once() {
    let env = TestEnv::new("agenda");
    env.patch_config(
        "[delivery]\n",
        "[agenda]\nemail_to = { Sara = \"sara.agent@example.com\", \"*\" = \"office@example.com\" }\n\n[delivery]\n",
    );
    let csv = CONTACTS
        .replace("locale,plan,pet,sms_consent", "locale,plan,pet,sms_consent,agent")
        .replace("web form\n", "web form,Sara\n");
    let csv = csv.replace("open house\n", "open house,Omar\n").replace(
        "Grace,Kim,grace@example.com,,en,8x8,,\n",
        "Grace,Kim,grace@example.com,,en,8x8,,,\n",
    );
    env.import(&csv, &["--enrolled-on", DATE]);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!(
        (s["agenda"].as_u64(), s["agenda_mailed"].as_u64()),
        (Some(3), Some(2)),
        "three welcome notes; Sara and the office: {s}"
    );
    let mails: Vec<String> = env
        .sink()
        .messages()
        .into_iter()
        .filter(|m| m.contains("Your agenda for"))
        .collect();
    assert_eq!(mails.len(), 2);
    let sara = mails
        .iter()
        .find(|m| m.contains("<sara.agent@example.com>"))
        .expect("Sara's agenda");
    assert!(
        parse(sara)
            .subject()
            .unwrap()
            .starts_with("Your agenda for 2026-11-20: 0 call(s), 1 card(s)")
    );
    assert!(header(sara, "List-Unsubscribe").is_none(), "not a marketing message");
    assert!(parse(sara).body_text(0).unwrap().contains("Olivia Bennett"));
    let office = mails.iter().find(|m| m.contains("<office@example.com>")).unwrap();
    let office_text = parse(office).body_text(0).unwrap().to_string();
    assert!(
        office_text.contains("أحمد العلي") && office_text.contains("Grace Kim"),
        "Omar has no address: {office_text}"
    );
    // What Sara's email listed is what `done --all-shown --agent sara` would close.
    let shown: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{}:agenda:shown:sara", env.prefix))
        .query(&mut env.redis())
        .unwrap();
    assert_eq!(shown.len(), 1, "Olivia's welcome card: {shown:?}");
    // Once per agent and date.
    let again = env.json(&["run", "--date", DATE]);
    assert_eq!(
        (again["agenda"].as_u64(), again["agenda_mailed"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    // --agent filters (any case); done closes; the rest rolls over, overdue first.
    let omar: serde_json::Value =
        serde_json::from_str(&env.ok(&["agenda", "--date", DATE, "--agent", "omar", "--format", "json"])).unwrap();
    assert_eq!(omar.as_array().unwrap().len(), 1);
    assert_eq!(omar[0]["name"], "أحمد العلي");
    let all: serde_json::Value = serde_json::from_str(&env.ok(&["agenda", "--date", DATE, "--format", "json"])).unwrap();
    let olivia = all.as_array().unwrap().iter().find(|i| i["name"] == "Olivia Bennett").unwrap();
    let code = olivia["short"].as_str().unwrap();
    let done = env.ok(&["agenda", "done", &code.to_lowercase(), "--note", "mailed with the report"]);
    assert!(done.starts_with(&format!("done: {code} card Olivia Bennett")), "{done}");
    let out = env.nurture(&["agenda", "done", code]);
    assert_eq!(out.status.code(), Some(1), "not open any more");
    let tomorrow = env.ok(&["agenda", "--date", "2026-11-21"]);
    assert_eq!(tomorrow.matches("- [ ]").count(), 2, "{tomorrow}");
    assert_eq!(env.json(&["status"])["agenda_open"], 2);
    assert!(
        tomorrow.contains("**overdue** since 2026-11-20") && !tomorrow.contains("Olivia"),
        "{tomorrow}"
    );
    assert_eq!(env.json(&["run", "--date", DATE])["agenda"], 0, "a done item is not opened again");
    assert!(show(&env, "olivia.bennett@example.com").contains("done         8x8 / w1-note — mailed with the report"));
}

#[test]
fn calendar_touches_go_out_every_year_once() {
    let env = TestEnv::new("calendar");
    env.import(
        "first_name,last_name,email,phone,locale,timezone,birthday,plan,sms_consent\n\
Olivia,Bennett,olivia@example.com,,en,America/Chicago,11-25,33-touch,\n\
أحمد,العلي,ahmed@example.com,+966 50 123 4567,ar,Asia/Riyadh,,33-touch,2026-01-01 form\n",
        &["--enrolled-on", "2026-01-01"],
    );
    // Thanksgiving (4th Thursday of November) and a birthday in the grace window.
    let s = env.json(&["run", "--date", "2026-11-26", "--now", "2026-11-26T18:00:00Z"]);
    assert_eq!(s["sent"], 2, "{s}");
    let subjects: Vec<String> = env
        .sink()
        .messages()
        .iter()
        .filter_map(|m| parse(m).subject().map(str::to_string))
        .collect();
    assert!(subjects.contains(&"Happy birthday, Olivia!".to_string()), "{subjects:?}");
    assert!(
        subjects.contains(&"Thank you, Olivia — Happy Thanksgiving".to_string()),
        "{subjects:?}"
    );
    assert!(env.twilio().requests().is_empty(), "no Thanksgiving for Arabic contacts");
    assert_eq!(
        env.json(&["run", "--date", "2026-11-26", "--now", "2026-11-26T18:00:00Z"])["sent"],
        0
    );
    // Eid al-Fitr 1448 (Umm al-Qura: 9 March 2027), in the plan's second year.
    let s = env.json(&["run", "--date", "2027-03-09", "--now", "2027-03-09T12:00:00Z"]);
    assert_eq!(s["sent"], 1, "{s}");
    let sms = env.twilio().requests();
    assert_eq!(sms.len(), 1);
    assert!(
        sms[0]["form"]["Body"].as_str().unwrap().starts_with("عيد فطر مبارك يا أحمد!"),
        "{}",
        sms[0]
    );
    assert_eq!(
        env.json(&["run", "--date", "2027-03-09", "--now", "2027-03-09T12:00:00Z"])["sent"],
        0
    );
    // The next year's birthday is a new occurrence: sent again.
    let s = env.json(&["run", "--date", "2027-11-25", "--now", "2027-11-25T18:00:00Z"]);
    assert_eq!(s["sent"], 2, "birthday and Thanksgiving 2027 (25 November): {s}");
}

/// A plan with one email touch at `at`.
fn timed_plan(at: &str) -> String {
    format!(
        "name = \"timed\"\n[[touch]]\nid = \"hello\"\nafter = \"0d\"\nat = \"{at}\"\nchannel = \"email\"\ntemplate = \"33-touch/birthday\"\n"
    )
}

#[test]
fn send_times_are_local_to_each_contact_and_wait_in_the_queue() {
    let env = TestEnv::new("sendtime");
    env.patch_config("heartbeat_secs = 1", "heartbeat_secs = 1\nsend_spread_secs = 0");
    env.write("jobs/timed.toml", &timed_plan("09:00"));
    // Tomorrow: 09:00 in Chicago and in Riyadh are different instants.
    let tomorrow = Clock::System.now().date_naive() + chrono::Duration::days(1);
    env.import(
        "email,timezone,plan\nchicago@example.com,America/Chicago,timed\nriyadh@example.com,Asia/Riyadh,timed\n",
        &["--enrolled-on", &tomorrow.to_string()],
    );
    let s = env.json(&["run", "--date", &tomorrow.to_string(), "--enqueue-only"]);
    assert_eq!((s["queued"].as_u64(), s["scheduled"].as_u64()), (Some(2), Some(2)), "{s}");
    let scores = env.scheduled_jobs();
    let at = |tz: chrono_tz::Tz| tz.from_local_datetime(&tomorrow.and_hms_opt(9, 0, 0).unwrap()).unwrap().timestamp();
    let mut got: Vec<i64> = scores.iter().map(|(_, s)| *s as i64).collect();
    got.sort();
    assert_eq!(got, vec![at(chrono_tz::Asia::Riyadh), at(chrono_tz::America::Chicago)]);
    assert_eq!(env.json(&["status"])["queue"]["scheduled"], 2);

    // A send time a minute away: the job waits in Redis, and a worker started later sends it then.
    let now = Clock::System.now();
    let due = now
        + chrono::Duration::seconds(if now.second() > 30 {
            120 - i64::from(now.second())
        } else {
            60 - i64::from(now.second())
        });
    let hhmm = format!("{:02}:{:02}", due.hour(), due.minute());
    env.write("jobs/timed.toml", &timed_plan(&hhmm));
    env.import(
        "email,timezone,plan\nsoon@example.com,UTC,timed\n",
        &["--enrolled-on", &due.date_naive().to_string()],
    );
    let s = env.json(&["run", "--date", &due.date_naive().to_string(), "--enqueue-only"]);
    assert_eq!(s["scheduled"], 1, "{s}");
    let mut worker = env.command(&["work"]).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(env.sink().count(), 0, "not before {hhmm} UTC");
    let deadline = Instant::now() + Duration::from_secs(150);
    while env.sink().count() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent_at = Clock::System.now();
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(env.sink().count(), 1, "sent once its time came");
    let target = due.with_second(0).unwrap().timestamp();
    assert!(sent_at.timestamp() >= target, "sent at {sent_at}, due {hhmm}");
    // smtp-sink may still be writing the file it just created: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !env.sink().messages()[0].contains("<soon@example.com>") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        env.sink().messages()[0].contains("<soon@example.com>"),
        "{}",
        env.sink().messages()[0]
    );
}

#[test]
fn plan_edits_stop_removed_touches_and_never_send_added_ones_retroactively() {
    let env = TestEnv::new("edits");
    env.import("email,plan\nedit@example.com,8x8\n", &["--enrolled-on", "2026-11-13"]);
    // w2-market-stats (7 days) is due on DATE: queue it, then remove it from the plan before it is sent.
    let s = env.json(&["run", "--date", DATE, "--enqueue-only"]);
    assert_eq!(s["queued"], 1, "{s}");
    let plan = std::fs::read_to_string(env.path().join("jobs/8x8.toml")).unwrap();
    let without = plan.replace(
        "[[touch]]\nid = \"w2-market-stats\"\nafter = \"1w\"\nchannel = \"email\"\ntemplate = \"8x8/market-stats\"\n",
        "",
    );
    assert_ne!(plan, without);
    // ...and add a touch that would have been due 5 days ago (outside the 3-day grace window).
    let added = format!("{without}\n[[touch]]\nid = \"late-addition\"\nafter = \"2d\"\nchannel = \"email\"\ntemplate = \"8x8/home-tip\"\n");
    env.write("jobs/8x8.toml", &added);
    let s = env.json(&["run", "--date", DATE]);
    assert_eq!((s["sent"].as_u64(), s["queued"].as_u64()), (Some(0), Some(0)), "{s}");
    assert_eq!(env.sink().count(), 0);
    assert_eq!(env.json(&["status"])["last_run_deliveries"]["cancelled"], 1);
    let history = show(&env, "edit@example.com");
    assert!(
        history.contains("cancelled    8x8 / w2-market-stats — the touch is no longer in its plan"),
        "{history}"
    );
    assert!(!history.contains("late-addition"));
}

#[test]
fn the_shipped_plans_keep_what_their_names_promise() {
    use nurture::plans::{Channel, When, Yearly};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (plans, diags) = nurture::plans::load_dir(&root.join("jobs"));
    assert!(diags.is_empty(), "{diags:?}");
    // 33 Touch, for each language: 14 mailings, 8 cards, 3 calls, 4 personal occasions, 4 holidays.
    let touch33 = &plans["33-touch"];
    for lang in ["en", "ar"] {
        let touches: Vec<_> = touch33.touches.iter().filter(|t| t.is_for(lang)).collect();
        let mailings: u32 = touches
            .iter()
            .filter(|t| t.channel == Channel::Email && t.locale.is_none() && !matches!(t.when, When::On(Yearly::Column(_))))
            .map(|t| if matches!(t.when, When::Cron(_)) { 12 } else { 1 })
            .sum();
        let cards = touches
            .iter()
            .filter(|t| t.channel == Channel::Card && matches!(t.when, When::After(_)))
            .count();
        let calls = touches.iter().filter(|t| t.channel == Channel::Call).count();
        let personal: Vec<&str> = touches
            .iter()
            .filter_map(|t| match &t.when {
                When::On(Yearly::Column(c)) => Some(c.as_str()),
                _ => None,
            })
            .collect();
        let holidays = touches.iter().filter(|t| t.locale.as_deref() == Some(lang)).count();
        assert_eq!((mailings, cards, calls, holidays), (14, 8, 3, 4), "{lang}");
        assert_eq!(personal, vec!["birthday", "anniversary", "home_purchase", "graduation"]);
    }
    let direct = &plans["12-direct"];
    assert_eq!(direct.touches.len(), 12);
    let mut months: Vec<i64> = direct.touches.iter().filter_map(|t| t.after_days()).map(|d| d / 30).collect();
    months.dedup();
    assert_eq!(months, (0..12).collect::<Vec<_>>(), "one a month");
    let eight = &plans["8x8"];
    assert!(eight.touches.iter().filter(|t| t.after_days().is_some_and(|d| d < 56)).count() >= 8);
    assert_eq!(eight.then.as_deref(), Some("33-touch"));
    assert_eq!(eight.demote.as_ref().map(|d| d.to.as_str()), Some("12-direct"));
}

#[test]
fn lint_counts_the_touches_a_plan_promises() {
    let env = TestEnv::new("promise");
    let plan = std::fs::read_to_string(env.path().join("jobs/33-touch.toml")).unwrap();
    let without_a_card = plan.replace(
        "[[touch]]\nid = \"card-8\"\nafter = \"335d\"\nchannel = \"card\"\nnote = \"Hand-written card: thank them for the year, and remind them you love referrals.\"\n",
        "",
    );
    assert_ne!(plan, without_a_card);
    env.write("jobs/33-touch.toml", &without_a_card);
    let out = env.nurture(&["lint", "--offline"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for lang in ["en", "ar"] {
        let want = format!("jobs/33-touch.toml:9:1: error: promise: 33 touches a year, but a contact with locale \"{lang}\" gets 32");
        assert!(text.contains(&want), "missing {want:?} in:\n{text}");
    }
}
