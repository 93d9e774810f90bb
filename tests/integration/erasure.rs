//! Erasure and identity end to end: nothing of a forgotten person is left or written again
//! (addresses changed by an import, a send in flight during `forget`, an old unsubscribe link,
//! texts from their numbers); opaque tokens bound to the address; one person, one contact; no
//! lost updates between concurrent contact writes.

use crate::compliance::post_sms;
use crate::faults::{DELIVERY, ENROLLED, fault_env, spawn_run};
use crate::support::private_redis::PrivateRedis;
use crate::support::{TestEnv, http};
use crate::{DATE, NOW};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nurture::compliance::token;
use serde_json::json;
use std::time::{Duration, Instant};

/// What identifies Ann anywhere: her id, every address and number she had, her surname.
const ANN: [&str; 6] = [
    "ann-7731",
    "ann@example.com",
    "ann.old@example.com",
    "Quill",
    "2175550123",
    "2175550124",
];

fn one_click(base: &str, token: &str) -> u16 {
    http(
        "POST",
        &format!("{base}/u/{token}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "List-Unsubscribe=One-Click",
    )
    .status
}

/// True when `text` has `needle` not preceded by a letter, digit or dot (`ann@` is not in
/// `joann@`).
fn mentions(text: &str, needle: &str) -> bool {
    text.match_indices(needle)
        .any(|(i, _)| !text[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '.'))
}

fn traces(env: &TestEnv) -> Vec<String> {
    env.dump()
        .into_iter()
        .filter(|(key, dump)| ANN.iter().any(|a| mentions(key, a) || mentions(dump, a)))
        .map(|(key, dump)| format!("{key} = {}", dump.chars().take(300).collect::<String>()))
        .collect()
}

#[test]
fn a_forgotten_person_leaves_no_trace_whatever_arrives_afterwards() {
    // The relay holds each final 250 back for 2.5 s: `forget` runs while Ann's email is in
    // flight.
    let (env, smtp) = fault_env("erasure", json!({"delay_end": 2.5}), DELIVERY, 0);
    env.patch_config("data_timeout_secs = 2", "data_timeout_secs = 10");
    let csv = |email: &str, phone: &str| {
        format!(
            "id,first_name,last_name,email,phone,plan\nann-7731,Ann,Quill,{email},{phone},8x8\n\
             jo-1,Joann,Other,joann@example.com,+12175550199,8x8\n"
        )
    };
    env.import(&csv("ann.old@example.com", "+12175550123"), &["--enrolled-on", ENROLLED]);
    // An import changes her address and number: the earlier ones are still hers.
    env.import(&csv("ann@example.com", "(217) 555-0124"), &["--enrolled-on", ENROLLED]);
    env.ok(&["suppress", "add", "ann.old@example.com"]);
    env.ok(&["record", "deal", "ann-7731", "--value", "350000", "--date", "2026-11-01"]);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    assert_eq!(post_sms(&server.base, "+12175550123", "STOP", true).status, 200);
    assert_eq!(env.json(&["suppress", "list"]).as_array().unwrap().len(), 2);

    let run = spawn_run(&env, false);
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.arrived() < 2 {
        assert!(Instant::now() < deadline, "the two emails never reached the relay");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = env.json(&["forget", "ann-7731"]);
    assert_eq!(out["erased"]["contacts"], 1, "{out}");
    assert_eq!(out["hashes_kept"], 4, "two addresses and two numbers: {out}");
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success());

    // Afterwards: her old links (new and old style), texts from both her numbers, a CRM event.
    let link = token::sign("test-secret", "ann-7731", "ann@example.com");
    let old_link = token::sign_v1("test-secret", "ann-7731");
    for t in [&link, &old_link] {
        assert_eq!(one_click(&server.base, t), 200, "an old link still answers politely");
        assert_eq!(http("GET", &format!("{}/u/{t}", server.base), &[], "").status, 200);
    }
    for number in ["+12175550123", "+12175550124"] {
        for body in ["STOP", "START", "hello?"] {
            assert_eq!(post_sms(&server.base, number, body, true).status, 200);
        }
    }
    assert!(!env.nurture(&["record", "response", "ann@example.com"]).status.success());
    // The rest of tonight's work went on: Joann got her email, Ann's was not marked.
    assert_eq!(smtp.accepted_per_recipient().get("joann@example.com"), Some(&1));

    let left = traces(&env);
    assert!(left.is_empty(), "traces of Ann:\n{}", left.join("\n"));
    assert!(env.dump().iter().any(|(_, d)| d.contains("joann@example.com")), "Joann is kept");

    // She is never imported again, by any address she had, even after the unsubscribe secret
    // was rotated (the pepper is its own secret).
    env.patch_config("secret = \"test-secret\"", "secret = \"rotated-secret\"");
    for (email, phone) in [("ann.old@example.com", ""), ("", "+12175550123"), ("Ann@Example.com", "")] {
        let r = env.import(&format!("first_name,email,phone\nAnn,{email},{phone}\n"), &[]);
        assert_eq!(r["created"], 0, "{r}");
        assert!(r["rejected"][0]["reason"].as_str().unwrap().contains("forgotten"), "{r}");
    }
    assert!(traces(&env).is_empty());
}

#[test]
fn an_unsubscribe_link_names_nobody_and_suppresses_the_address_it_was_sent_to() {
    let env = TestEnv::new("tokens");
    env.import(
        "id,first_name,email,plan\nc-17,Ann,ann.old@example.com,8x8\nc-18,Bo,bo@example.com,8x8\n",
        &["--enrolled-on", DATE],
    );
    assert_eq!(env.json(&["run", "--date", DATE, "--now", NOW])["sent"], 2);
    let messages = env.sink().messages();
    let to_ann = messages.iter().find(|m| m.contains("To: Ann <ann.old@example.com>")).unwrap();
    let link = crate::support::header(to_ann, "List-Unsubscribe").unwrap();
    let token = link.trim_matches(|c| c == '<' || c == '>').rsplit('/').next().unwrap().to_string();
    // Opaque: neither the address nor the id, plain or in base64.
    for secret in [
        "ann",
        "c-17",
        &URL_SAFE_NO_PAD.encode("c-17"),
        &URL_SAFE_NO_PAD.encode("ann.old")[..8],
    ] {
        assert!(!token.contains(secret), "{token} shows {secret}");
    }
    // Her address changes; then she clicks the link of the old email.
    env.import("id,email\nc-17,ann@example.com\n", &[]);
    // The secret was rotated meanwhile: links made with the old one keep working.
    env.patch_config(
        "secret = \"test-secret\"",
        "secret = \"new-secret\"\nprevious_secrets = [\"test-secret\"]",
    );
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    assert_eq!(one_click(&server.base, &token), 200);
    let mut list: Vec<String> = env
        .json(&["suppress", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect();
    list.sort();
    assert_eq!(
        list,
        ["ann.old@example.com", "ann@example.com"],
        "the address it went to, and hers now"
    );
    // A link made by 0.5 (base64 id + HMAC) still unsubscribes: Bo's current address.
    assert_eq!(one_click(&server.base, &token::sign_v1("test-secret", "c-18")), 200);
    assert_eq!(env.json(&["suppress", "list"]).as_array().unwrap().len(), 3);
    // A forged one does not.
    assert_eq!(one_click(&server.base, &token::sign_v1("guess", "c-18")), 404);
    let s = env.json(&["run", "--date", "2026-11-27", "--now", "2026-11-27T18:00:00Z"]);
    assert_eq!((s["sent"].as_u64(), s["suppressed"].as_u64()), (Some(0), Some(2)), "{s}");
}

#[test]
fn one_person_one_contact_holds_across_the_chunks_of_a_large_file() {
    // Rows are placed a thousand at a time while the chunks before are still being written:
    // a contact or an address met again in the next chunk (or the one after) must still find
    // the contact, and the later row must win.
    let env = TestEnv::new("chunks");
    let mut rows: Vec<String> = (0..3000).map(|i| format!("c-{i},p{i}@example.com,,P{i},,8x8")).collect();
    rows[10] = "c-10,p10@example.com,+12175550110,P10,,8x8".into();
    rows[1000] = "c-999,p999@example.com,,Later,,8x8".into();
    rows[1001] = "x-1,p998@example.com,,P998,Moved,8x8".into();
    rows[1002] = "x-3,new3@example.com,(217) 555-0110,P10,Phone,8x8".into();
    rows[2000] = "x-2,p1999@example.com,,P1999,Again,8x8".into();
    rows[2001] = "c-1998,p1998@example.com,,Twice,,8x8".into();
    let csv = format!("id,email,phone,first_name,last_name,plan\n{}\n", rows.join("\n"));
    let r = env.import(&csv, &["--enrolled-on", DATE]);
    assert_eq!(
        (r["created"].as_u64(), r["matched_by_address"].as_u64(), r["duplicates"].as_u64()),
        (Some(2995), Some(3), Some(5)),
        "{}",
        r["created"]
    );
    assert_eq!(r["rejected_rows"], 0);
    assert_eq!(env.json(&["status"])["contacts"], 2995);
    let field = |who: &str, f: &str| env.json(&["contact", "show", who])["contact"]["fields"][f].clone();
    assert_eq!(field("c-999", "first_name"), "Later", "the later row wins across chunks");
    assert_eq!(field("p998@example.com", "last_name"), "Moved");
    assert_eq!(field("p998@example.com", "id"), "c-998");
    assert_eq!(field("p1999@example.com", "last_name"), "Again", "two chunks later");
    assert_eq!(field("c-1998", "first_name"), "Twice");
    assert_eq!(field("+12175550110", "id"), "c-10", "found by its phone");
    assert_eq!(field("new3@example.com", "id"), "c-10", "the email index follows");
    assert_eq!(field("c-10", "last_name"), "Phone");
    // The same file again makes nobody twice, and ends where it ended.
    let again = env.import(&csv, &["--enrolled-on", DATE]);
    assert_eq!(again["created"], 0, "{}", again["updated"]);
    assert_eq!(env.json(&["status"])["contacts"], 2995);
    assert_eq!(field("c-999", "first_name"), "Later");
    assert_eq!(field("c-10", "email"), "new3@example.com");
}

#[test]
fn an_id_column_never_makes_a_second_contact_for_a_stored_address() {
    let env = TestEnv::new("oneperson");
    env.import("email,first_name,plan\nann@example.com,Ann,8x8\n", &["--enrolled-on", DATE]);
    env.import("phone,first_name,plan\n+12175550100,Pat,8x8\n", &["--enrolled-on", DATE]);
    let r = env.import(
        "id,email,phone,first_name,last_name,plan\n\
         c-17,ANN@example.com,,Ann,Lee,8x8\n\
         c-18,bo@example.com,,Bo,,8x8\n\
         c-19,bo@example.com,,Bobby,,8x8\n\
         p-1,pat@example.com,(217) 555-0100,Pat,Kay,8x8\n",
        &["--enrolled-on", DATE],
    );
    assert_eq!(
        (r["created"].as_u64(), r["updated"].as_u64(), r["matched_by_address"].as_u64()),
        (Some(1), Some(2), Some(3)),
        "{r}"
    );
    assert_eq!(env.json(&["status"])["contacts"], 3, "Ann, Pat and Bo, once each");
    let ann = env.json(&["contact", "show", "ann@example.com"]);
    assert_eq!(ann["contact"]["id"], "ann@example.com", "{ann}");
    assert_eq!(ann["contact"]["fields"]["last_name"], "Lee", "{ann}");
    let bo = env.json(&["contact", "show", "bo@example.com"]);
    assert_eq!(bo["contact"]["fields"]["first_name"], "Bobby", "the later row wins: {bo}");
    let pat = env.json(&["contact", "show", "+12175550100"]);
    assert_eq!(pat["contact"]["fields"]["email"], "pat@example.com", "{pat}");
    // A row that would give Ann's address to Bo is a conflict, by line; the good row goes in.
    env.write(
        "conflict.csv",
        "id,email,first_name,plan\nc-18,ann@example.com,Bo,8x8\nc-20,cy@example.com,Cy,8x8\n",
    );
    let out = env.nurture(&["import", "conflict.csv", "--json", "--enrolled-on", DATE]);
    let r: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("import printed no JSON: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(r["created"], 1, "{r}");
    assert_eq!(r["rejected"][0]["line"], 2, "{r}");
    assert_eq!(r["rejected"][0]["column"], "email", "{r}");
    assert!(
        r["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("belongs to contact \"ann@example.com\""),
        "{r}"
    );
    // Tonight each person gets one welcome email.
    let s = env.json(&["run", "--date", DATE, "--now", NOW]);
    assert_eq!(s["sent"], 4, "{s}");
    let mut to: Vec<String> = env
        .sink()
        .messages()
        .iter()
        .map(|m| crate::support::header(m, "To").unwrap())
        .collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 4, "{to:?}");
}

#[test]
fn a_response_recorded_while_a_run_moves_the_contact_keeps_both() {
    let env = TestEnv::new("lostupdate");
    env.import("id,email,first_name,plan\nc-1,ann@example.com,Ann,8x8\n", &["--enrolled-on", DATE]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = nurture::store::Store::connect(&crate::support::redis_url(), &env.prefix)
            .await
            .unwrap();
        let ids = vec!["c-1".to_string()];
        let mut first = true;
        // The run's move, applied to the contact as stored. The first time, another process
        // records a response between the run's read and its write.
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let written = store
            .update_contacts(&ids, |_, stored| {
                if std::mem::take(&mut first) {
                    let out = env.nurture(&["record", "response", "c-1", "--date", "2026-11-20"]);
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                }
                let mut c = stored?;
                c.enroll("33-touch", day);
                Some(c)
            })
            .await
            .unwrap();
        assert_eq!(written.len(), 1);
    });
    let c = env.json(&["contact", "show", "c-1"]);
    assert_eq!(c["contact"]["fields"]["plan"], "33-touch", "the move: {c}");
    assert_eq!(c["contact"]["responded_on"], "2026-11-20", "the response: {c}");
}

const LEADS: &str = "[leads]\nper_minute = 100000\n\n[leads.sources.web]\nkey = \"web-key-0123456789\"\n\n[delivery]\n";

fn post_leads(base: &str, body: &str, extra: &[(&str, &str)]) -> crate::support::HttpResponse {
    let mut headers = vec![("Authorization", "Bearer web-key-0123456789"), ("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    http("POST", &format!("{base}/leads"), &headers, body)
}

#[test]
fn a_lead_racing_forget_never_brings_the_person_back() {
    let env = TestEnv::new("forgetrace");
    env.patch_config("[delivery]\n", LEADS);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    for trial in 0..5 {
        let email = format!("race{trial}@example.com");
        env.import(&format!("email,first_name,plan\n{email},Rae,8x8\n"), &["--enrolled-on", ENROLLED]);
        let copies = vec![json!({"email": email, "first_name": "Rae", "phone": format!("+1217555{trial:04}")}); 50];
        let body = serde_json::to_string(&copies).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let posters: Vec<_> = (0..3)
            .map(|_| {
                let (base, body, stop) = (server.base.clone(), body.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut posts = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let r = post_leads(&base, &body, &[]);
                        assert!(r.status == 200 || r.status == 201, "{} {}", r.status, r.body);
                        posts += 1;
                    }
                    posts
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150));
        env.ok(&["forget", &email]);
        std::thread::sleep(Duration::from_millis(400));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let posts: usize = posters.into_iter().map(|p| p.join().unwrap()).sum();
        assert!(posts >= 3, "the posts ran through the forget: {posts}");
        assert!(
            !env.nurture(&["contact", "show", &email]).status.success(),
            "trial {trial}: {email} came back"
        );
        let left: Vec<_> = env
            .dump()
            .into_iter()
            .filter(|(k, d)| k.contains(&email) || d.contains(&email))
            .collect();
        assert!(left.is_empty(), "trial {trial}: {left:?}");
    }
    // The night's run reaches none of them.
    env.ok(&["run", "--now", NOW]);
    let to: Vec<String> = env
        .sink()
        .messages()
        .iter()
        .filter_map(|m| crate::support::header(m, "To"))
        .collect();
    assert!(!to.iter().any(|t| t.contains("race")), "{to:?}");
}

#[test]
fn forget_leaves_nothing_in_lead_answers_agenda_views_or_sender_health() {
    const HER: [&str; 3] = ["ann@example.com", "Quill", "2175550123"];
    let (env, smtp) = fault_env(
        "forgettraces",
        json!({"rcpt": 450, "text": "4.2.1 <ann@example.com>: greylisted"}),
        DELIVERY,
        0,
    );
    env.patch_config("[delivery]\n", LEADS);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let lead = r#"{"first_name":"Ann","last_name":"Quill","email":"ann@example.com","phone":"+12175550123","message":"hi \u001b[2J"}"#;
    let first = post_leads(&server.base, lead, &[("Idempotency-Key", "k-1")]);
    assert_eq!(first.status, 201, "{}", first.body);
    env.import("email,plan\nann@example.com,8x8\n", &["--enrolled-on", DATE]);
    // A terminal escape she typed is shown, not obeyed.
    let shown = env.ok(&["contact", "show", "ann@example.com"]);
    assert!(!shown.contains('\u{1b}') && shown.contains("\\u{1b}"), "{shown}");
    // The night: her welcome email meets a greylisting relay that quotes her address (the
    // sender's health records it), her card goes on the agenda, and Sara looks at it.
    env.json(&["run", "--date", DATE]);
    assert!(env.ok(&["status"]).contains("ann@example.com"), "the health record quotes her");
    let agenda = env.ok(&["agenda", "--date", DATE]);
    assert!(agenda.contains("Ann"), "{agenda}");
    smtp.set(json!({}));

    env.ok(&["forget", "ann@example.com"]);
    let left: Vec<String> = env
        .dump()
        .into_iter()
        .filter(|(k, d)| HER.iter().any(|h| k.contains(h) || d.contains(h)))
        .map(|(k, d)| format!("{k} = {}", d.chars().take(300).collect::<String>()))
        .collect();
    assert!(left.is_empty(), "traces of Ann:\n{}", left.join("\n"));
    // Replaying her lead post's key answers nothing about her.
    let replay = post_leads(&server.base, lead, &[("Idempotency-Key", "k-1")]);
    assert!(!replay.body.contains("ann"), "{}", replay.body);
    assert!(!env.nurture(&["contact", "show", "ann@example.com"]).status.success());
}

#[test]
fn imports_of_the_same_people_at_once_keep_every_files_columns_and_history() {
    let env = TestEnv::new("twoimports");
    const PEOPLE: usize = 2500;
    let file = |column: &str, tag: &str| {
        let mut text = format!("email,{column}\n");
        for i in 0..PEOPLE {
            text.push_str(&format!("p{i}@example.com,{tag}{i}\n"));
        }
        text
    };
    env.import(&file("first_name", "Name"), &[]);
    // Three processes write the same contacts at once, each its own column, chunk by chunk:
    // their transactions meet, and a write that loses the race is made again on the newer
    // contact instead of overwriting it.
    let columns = [("city", "City"), ("company", "Firm"), ("title", "Title")];
    for (column, tag) in columns {
        env.write(&format!("{column}.csv"), &file(column, tag));
    }
    let imports: Vec<_> = columns
        .iter()
        .map(|(column, _)| env.command(&["import", &format!("{column}.csv"), "--json"]).spawn().unwrap())
        .collect();
    for child in imports {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let stored: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{}:contacts", env.prefix))
        .query(&mut env.redis())
        .unwrap();
    assert_eq!(stored.len(), PEOPLE);
    for i in 0..PEOPLE {
        let id = format!("p{i}@example.com");
        let c: serde_json::Value = serde_json::from_str(&stored[&id]).unwrap();
        assert_eq!(c["fields"]["first_name"], format!("Name{i}"), "{c}");
        for (column, tag) in columns {
            assert_eq!(c["fields"][column], format!("{tag}{i}"), "every file's column is kept: {c}");
        }
    }
    // Each import's history event is written with the contact it changed, once.
    let history: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{}:history:p{}@example.com", env.prefix, PEOPLE - 1))
        .arg(0)
        .arg(-1)
        .query(&mut env.redis())
        .unwrap();
    assert_eq!(history.len(), 1, "created once, then updated without events: {history:?}");
    let emails: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("{}:emails", env.prefix))
        .query(&mut env.redis())
        .unwrap();
    assert_eq!(emails.len(), PEOPLE, "one index entry each");
}

/// What a run of imports left in Redis under `prefix`, without the times: each contact's JSON,
/// both address indexes, the forgotten set, and each contact's history as (event, plan, detail).
fn stored_people(r: &mut redis::Connection, prefix: &str) -> serde_json::Value {
    use std::collections::BTreeMap;
    let hash = |r: &mut redis::Connection, key: &str| -> BTreeMap<String, String> {
        redis::cmd("HGETALL").arg(format!("{prefix}:{key}")).query(r).unwrap()
    };
    let contacts = hash(r, "contacts");
    let mut history = BTreeMap::new();
    for id in contacts.keys() {
        let events: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{prefix}:history:{id}"))
            .arg(0)
            .arg(-1)
            .query(r)
            .unwrap();
        let events: Vec<(String, String, String)> = events
            .iter()
            .map(|e| {
                let e: serde_json::Value = serde_json::from_str(e).unwrap();
                let text = |k: &str| e[k].as_str().unwrap_or("").to_string();
                (text("event"), text("plan"), text("detail"))
            })
            .collect();
        history.insert(id.clone(), events);
    }
    let mut forgotten: Vec<String> = redis::cmd("SMEMBERS").arg(format!("{prefix}:forgotten")).query(r).unwrap();
    forgotten.sort();
    json!({
        "contacts": contacts,
        "emails": hash(r, "emails"),
        "phones": hash(r, "phones"),
        "forgotten": forgotten,
        "history": history,
    })
}

/// The script that writes contacts when a `WATCH`ed transaction cannot (no private connection,
/// a Sentinel or cluster move, three refusals) writes exactly what the transaction writes.
/// Forced for real: on a private Redis whose user may not `WATCH`. The same imports — new
/// people, changed columns, addresses moving between contacts, someone forgotten and imported
/// again — go through both paths, and Redis ends with the same contacts, indexes and history.
#[test]
fn contact_writes_through_the_script_fallback_end_as_through_the_transaction() {
    let files = [
        "email,phone,first_name,plan\n".to_string()
            + &(0..300).map(|i| format!("p{i}@example.com,+1217201{i:04},P{i},8x8\n")).collect::<String>(),
        // Changed columns, everyone's phone changed, new people, and rows whose phone belongs
        // to someone else (refused, row by row).
        "email,phone,city\n".to_string()
            + &(0..400).map(|i| format!("p{i}@example.com,+1217202{i:04},City{i}\n")).collect::<String>()
            + &(0..20).map(|i| format!("q{i}@example.com,+1217202{:04},Elsewhere\n", i + 1)).collect::<String>(),
        // An id column changing a stored person's email, and the forgotten person back.
        "id,email,title\np5@example.com,five@example.com,Chief\np6@example.com,p6@example.com,Deputy\ngone@example.com,gone@example.com,Back\n".to_string(),
    ];
    let scripted_redis = PrivateRedis::start(&tempfile::tempdir().unwrap().keep(), false);
    let mut scripted_conn = redis::Client::open(scripted_redis.url()).unwrap().get_connection().unwrap();
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("default")
        .arg("-watch")
        .query(&mut scripted_conn)
        .unwrap();
    let transacted = TestEnv::new("viatx");
    let scripted = TestEnv::new("viascript");
    scripted.patch_config(&crate::support::redis_url(), &scripted_redis.url());
    let mut exits = Vec::new();
    for env in [&transacted, &scripted] {
        env.import("email,first_name\ngone@example.com,Gone\n", &[]);
        env.ok(&["forget", "gone@example.com"]);
        for (i, file) in files.iter().enumerate() {
            env.write(&format!("f{i}.csv"), file);
            let out = env.nurture(&["import", &format!("f{i}.csv"), "--enrolled-on", DATE, "--json"]);
            let mut summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            if let Some(fields) = summary.as_object_mut() {
                fields.retain(|k, _| !k.ends_with("secs") && k != "file");
            }
            exits.push((env.prefix.starts_with("nt-viatx"), i, out.status.code(), summary));
        }
    }
    let (via_tx, via_script): (Vec<_>, Vec<_>) = exits.into_iter().partition(|e| e.0);
    let outcome = |v: Vec<(bool, usize, Option<i32>, serde_json::Value)>| v.into_iter().map(|e| (e.1, e.2, e.3)).collect::<Vec<_>>();
    assert_eq!(outcome(via_tx), outcome(via_script), "the same imports end the same way");
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut scripted_conn).unwrap();
    let watch = stats.lines().find(|l| l.starts_with("cmdstat_watch:")).unwrap_or("");
    assert!(
        watch.contains("rejected_calls=") && !watch.contains("rejected_calls=0"),
        "WATCH was refused: {watch}"
    );
    let via_script = stored_people(&mut scripted_conn, &scripted.prefix);
    let via_transaction = stored_people(&mut transacted.redis(), &transacted.prefix);
    assert!(
        via_script["contacts"].as_object().unwrap().len() >= 400,
        "{}",
        via_script["contacts"]
    );
    assert_eq!(via_script, via_transaction);
}
