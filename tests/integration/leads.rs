//! The lead funnel: `POST /leads` with per-source keys, assignment by `[assign]` rules (round
//! robin kept in Redis, shared with `import --assign`), known people filled where empty and
//! counted as responding, suppressed and forgotten people never re-subscribed, idempotency
//! and the per-key rate limit.

use crate::support::{TestEnv, http};
use serde_json::Value;

const SETUP: &str = "[agents.sara]\nname = \"Sara Haddad\"\nemail = \"sara@example.com\"\n\n\
[agents.omar]\nname = \"Omar Nasser\"\nemail = \"omar@example.com\"\n\n\
[leads]\nper_minute = 12\n\n\
[leads.sources.zillow]\nkey = \"zillow-key-0123456789\"\n\n\
[leads.sources.web]\nkey = \"web-key-0123456789\"\n\n\
[assign]\ndefault = { agents = [\"sara\", \"omar\"], plan = \"8x8\" }\n\n\
[assign.sources.zillow]\nagents = [\"omar\"]\nplan = \"12-direct\"\n\n[delivery]\n";

fn post(base: &str, key: &str, body: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let auth = format!("Bearer {key}");
    let mut headers = vec![("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    let r = http("POST", &format!("{base}/leads"), &headers, body);
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::String(r.body)))
}

fn events(env: &TestEnv, who: &str) -> Vec<String> {
    env.json(&["contact", "show", who])["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["event"].as_str().unwrap(), e["detail"].as_str().unwrap_or("")))
        .collect()
}

#[test]
fn leads_are_funnelled_assigned_and_never_resubscribe_anyone() {
    let env = TestEnv::new("leads");
    env.patch_config("[delivery]\n", SETUP);
    env.ok(&["suppress", "add", "eve@example.com"]);
    env.import("email,first_name\ngus@example.com,Gus\n", &[]);
    env.ok(&["forget", "gus@example.com"]);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let base = server.base.as_str();

    // Keys: none or unknown → 401; a key posting another source → 403, nothing stored.
    let r = http("POST", &format!("{base}/leads"), &[], "{}");
    assert_eq!(r.status, 401);
    assert_eq!(post(base, "guess", r#"{"email":"x@example.com"}"#, &[]).0, 401);
    let (status, body) = post(base, "zillow-key-0123456789", r#"{"source":"web","email":"x@example.com"}"#, &[]);
    assert_eq!(status, 403, "{body}");
    assert!(!env.nurture(&["contact", "show", "x@example.com"]).status.success());

    // A new zillow lead: the zillow rule decides (omar, 12 Direct), stage new.
    let (status, ann) = post(
        base,
        "zillow-key-0123456789",
        r#"{"first_name":"Ann","email":"Ann@Example.com","message":"3 bedrooms?"}"#,
        &[],
    );
    assert_eq!(status, 201, "{ann}");
    assert_eq!(
        ann,
        serde_json::json!({"contact": "ann@example.com", "created": true, "agent": "omar", "plan": "12-direct", "stage": "new"})
    );
    let history = events(&env, "ann@example.com");
    assert!(
        history
            .iter()
            .any(|e| e == "assigned agent omar, plan 12-direct (rule sources.zillow, turn 1)"),
        "{history:?}"
    );
    assert!(history.iter().any(|e| e == "lead zillow: 3 bedrooms?"), "{history:?}");

    // Two web leads at once: the default rule's agents take turns.
    let (status, two) = post(
        base,
        "web-key-0123456789",
        r#"[{"email":"bo@example.com"},{"phone":"+1 217 555 0188","first_name":"Cy"}]"#,
        &[],
    );
    assert_eq!(status, 201, "{two}");
    assert_eq!((two[0]["agent"].as_str(), two[1]["agent"].as_str()), (Some("sara"), Some("omar")));
    assert_eq!(two[1]["contact"], "+12175550188");

    // Ann again, from the web form: only empty fields are filled, and it is her response.
    let (status, again) = post(
        base,
        "web-key-0123456789",
        r#"{"first_name":"Annie","last_name":"Lee","email":"ann@example.com","message":"call me"}"#,
        &[],
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["created"].as_bool(), again["stage"].as_str()),
        (Some(false), Some("contacted"))
    );
    let shown = env.json(&["contact", "show", "ann@example.com"]);
    assert_eq!(shown["contact"]["fields"]["first_name"], "Ann", "{shown}");
    assert_eq!(shown["contact"]["fields"]["last_name"], "Lee");
    assert_eq!(shown["contact"]["fields"]["source"], "zillow", "the source it arrived with stays");
    assert!(events(&env, "ann@example.com").iter().any(|e| e == "response lead (web): call me"));

    // Bad leads: 422 naming each field; the good one of the same post is stored.
    let (status, bad) = post(
        base,
        "web-key-0123456789",
        r#"[{"email":"not-an-address","plan":"8x9"},{"emial":"typo@example.com"},{"first_name":"No Address"},{"email":"dee@example.com"}]"#,
        &[],
    );
    assert_eq!(status, 422, "{bad}");
    assert!(
        bad[0]["errors"]["email"].as_str().unwrap().contains("not an email address"),
        "{bad}"
    );
    assert!(bad[0]["errors"]["plan"].as_str().unwrap().contains("8x8"), "did you mean: {bad}");
    assert!(bad[1]["errors"]["emial"].as_str().unwrap().contains("unknown field"), "{bad}");
    assert!(bad[2]["errors"]["email or phone"].is_string(), "{bad}");
    assert_eq!(bad[3]["created"], true, "{bad}");

    // Idempotency-Key: the same key returns the first answer and stores nothing more.
    let key = [("Idempotency-Key", "form-7f3a")];
    let first = post(base, "web-key-0123456789", r#"{"email":"fay@example.com"}"#, &key);
    let second = post(base, "web-key-0123456789", r#"{"email":"fay@example.com"}"#, &key);
    assert_eq!(first.0, 201);
    assert_eq!(first, second);
    let other = post(base, "zillow-key-0123456789", r#"{"email":"fay@example.com"}"#, &key);
    assert_eq!((other.0, other.1["created"].as_bool()), (200, Some(false)), "keys are per source");

    // Suppressed: a lead stores the person but lifts nothing; forgotten: nothing at all.
    let (status, eve) = post(base, "web-key-0123456789", r#"{"email":"eve@example.com"}"#, &[]);
    assert_eq!(status, 201, "{eve}");
    let list = env.ok(&["suppress", "list"]);
    assert!(list.contains("eve@example.com"), "{list}");
    let (status, gus) = post(base, "web-key-0123456789", r#"{"email":"gus@example.com","first_name":"Gus"}"#, &[]);
    assert_eq!((status, gus["contact"].is_null()), (200, true), "{gus}");
    assert!(!env.nurture(&["contact", "show", "gus@example.com"]).status.success());

    // The rate limit is per key and per minute (12 here): a burst from zillow in one minute
    // gets 429 once 12 posts are in, while the web key still posts.
    let second = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 60
    };
    if second() > 45 {
        std::thread::sleep(std::time::Duration::from_secs(61 - second()));
    }
    let mut statuses = Vec::new();
    for i in 0..14 {
        statuses.push(post(base, "zillow-key-0123456789", &format!(r#"{{"email":"z{i}@example.com"}}"#), &[]).0);
    }
    let accepted = statuses.iter().filter(|s| **s == 201).count() as u64;
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(accepted <= 12, "{statuses:?}");
    assert_eq!(post(base, "web-key-0123456789", r#"{"email":"ivy@example.com"}"#, &[]).0, 201);

    // An import without agents goes through the same rules, turns shared with the server.
    let r = env.import("email,source\nhal@example.com,web\n", &["--assign"]);
    assert_eq!(r["created"], 1, "{r}");
    let hal = env.json(&["contact", "show", "hal@example.com"]);
    assert_eq!(hal["contact"]["fields"]["agent"], "sara", "turn 7 of sara, omar: {hal}");
    assert_eq!(hal["contact"]["fields"]["plan"], "8x8");

    // Each new lead is one lead in the report, whatever the retries.
    let report = env.json(&["report", "--by", "source"]);
    let leads = |s: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == s)
            .map(|r| r["leads"].as_u64().unwrap())
    };
    assert_eq!(leads("web"), Some(7), "bo, cy, dee, fay, eve, ivy, hal: {report}");
    assert_eq!(leads("zillow"), Some(1 + accepted), "{report}");
}

/// The public form in a real browser: a person fills it in and is a contact of that source
/// with the rule's agent and their SMS consent; a refused post shows what to fix and keeps
/// what was typed; a bot that fills the honeypot stores nothing; an Arabic source's form is
/// right to left; each client network has its own per-minute budget.
#[test]
fn the_public_form_takes_people_and_refuses_bots() {
    let Some(driver) = crate::support::browser::Driver::start() else {
        panic!("chromium and chromedriver are required (Debian: apt-get install chromium chromium-driver)");
    };
    let env = TestEnv::new("leadform");
    env.patch_config("[delivery]\n", SETUP);
    env.patch_config(
        "per_minute = 12\n",
        "per_minute = 12\nform = true\nform_per_minute = 4\n\n[leads.sources.open_house]\nlocale = \"ar\"\n",
    );
    env.patch_config("[privacy]\n", "[server]\nclient_ip_header = \"X-Forwarded-For\"\n\n[privacy]\n");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let base = server.base.as_str();
    assert_eq!(http("GET", &format!("{base}/leads/form/nosuch"), &[], "").status, 404);
    let page = http("GET", &format!("{base}/leads/form/web"), &[], "");
    assert_eq!(page.status, 200);
    assert!(page.headers.contains("form-action 'self'"), "{}", page.headers);

    let session = driver.session();
    // A person: thanked, and a contact of the web source on the default rule.
    session.goto(&format!("{base}/leads/form/web"));
    session.type_into("#first_name", "Dana");
    session.type_into("#email", "Dana@Example.com");
    session.type_into("#phone", "+1 217 555 0142");
    session.type_into("#message", "Looking for a 3-bed near the school");
    session.click("#sms_consent");
    session.click("#send");
    session.wait_for("#thanks");
    assert_eq!(session.text("#thanks"), "Thank you");
    session.screenshot("lead-form-thanks");
    let dana = env.json(&["contact", "show", "dana@example.com"]);
    let fields = &dana["contact"]["fields"];
    assert_eq!(
        (fields["source"].as_str(), fields["agent"].as_str()),
        (Some("web"), Some("sara")),
        "{dana}"
    );
    assert_eq!(fields["plan"], "8x8");
    assert_eq!(fields["phone"], "+12175550142");
    assert!(fields["sms_consent"].is_null(), "a form's consent waits for the YES: {dana}");
    assert!(fields["sms_consent_pending"].as_str().unwrap().ends_with(" lead form"), "{dana}");
    assert!(
        events(&env, "dana@example.com").contains(&"lead web: Looking for a 3-bed near the school".to_string()),
        "{dana}"
    );

    // A refused post: 422, the problem under its field, the typed values kept.
    session.goto(&format!("{base}/leads/form/web"));
    session.type_into("#first_name", "Eli");
    session.type_into("#phone", "12");
    session.click("#send");
    session.wait_for("#error-phone");
    assert!(session.text("#error-phone").contains("phone"), "{}", session.text("body"));
    assert_eq!(session.attribute("#first_name", "value"), "Eli");
    session.screenshot("lead-form-refused");

    // A bot fills every field, the hidden one too: thanked, nothing stored.
    session.goto(&format!("{base}/leads/form/web"));
    session.type_into("#email", "bot@example.com");
    session.run(
        "document.getElementById('website').value = 'http://spam.example'",
        serde_json::json!([]),
    );
    session.click("#send");
    session.wait_for("#thanks");
    assert_eq!(session.text("#thanks"), "Thank you");
    assert!(!env.nurture(&["contact", "show", "bot@example.com"]).status.success());
    let metrics = http("GET", &format!("{base}/metrics"), &[], "").body;
    assert!(metrics.contains("nurture_lead_form_spam_total 1\n"), "{metrics}");
    assert!(metrics.contains("nurture_lead_form_posts_total 1\n"), "{metrics}");

    // The Arabic source's form is right to left, and its leads are Arabic contacts.
    session.goto(&format!("{base}/leads/form/open_house"));
    assert_eq!(session.attribute("html", "dir"), "rtl");
    assert_eq!(session.text("#send"), "إرسال");
    session.screenshot("lead-form-arabic");
    let form = |ip: &str, email: &str| {
        let body = format!("email={email}");
        let headers = [("Content-Type", "application/x-www-form-urlencoded"), ("X-Forwarded-For", ip)];
        http("POST", &format!("{base}/leads/form/open_house"), &headers, &body).status
    };
    assert_eq!(form("198.51.100.1", "rana%40example.com"), 303);
    let rana = env.json(&["contact", "show", "rana@example.com"]);
    assert_eq!(rana["contact"]["fields"]["locale"], "ar", "{rana}");

    // The budget is per client network and minute (4 here): within two minutes, 9 posts from
    // one network hit it; another network still posts.
    let statuses: Vec<u16> = (0..9).map(|i| form("203.0.113.5", &format!("r{i}%40example.com"))).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 303).count() <= 8, "{statuses:?}");
    assert_eq!(form("203.0.113.99", "other%40example.com"), 303);
}

/// POSTs the public form of `source` as a browser would (urlencoded pairs).
fn post_form(base: &str, source: &str, pairs: &[(&str, &str)]) -> u16 {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    http("POST", &format!("{base}/leads/form/{source}"), &headers, &body).status
}

#[test]
fn the_anonymous_form_changes_no_known_person_and_its_sms_consent_needs_a_yes() {
    let env = TestEnv::new("leadconsent");
    env.patch_config("[delivery]\n", SETUP);
    env.patch_config("per_minute = 12\n", "per_minute = 12\nform = true\nform_per_minute = 20\n");
    env.import(
        "email,first_name,plan,status\nann@example.com,Ann,8x8,contacted\n",
        &["--enrolled-on", "2026-11-03"],
    );
    let ann_before = env.json(&["contact", "show", "ann@example.com"])["contact"].clone();
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let base = server.base.as_str();

    // A stranger types Ann's email, their own phone and ticks the SMS box: thanked, and Ann
    // is as she was — no phone, no consent, no response, no stage move; a line for the agent.
    let pairs = [
        ("first_name", "Ann"),
        ("email", "ann@example.com"),
        ("phone", "+1 217 555 0177"),
        ("sms_consent", "yes"),
        ("message", "call me"),
    ];
    assert_eq!(post_form(base, "web", &pairs), 303);
    let ann = env.json(&["contact", "show", "ann@example.com"]);
    assert_eq!(ann["contact"], ann_before, "{ann}");
    assert!(
        events(&env, "ann@example.com").contains(&"lead_unverified web: call me".to_string()),
        "{ann}"
    );
    assert!(!env.nurture(&["contact", "show", "+12175550177"]).status.success());

    // A keyed source's lead for her is her response, but adds no phone either.
    let (status, body) = post(
        base,
        "web-key-0123456789",
        r#"{"email":"ann@example.com","phone":"+12175550177"}"#,
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let ann = env.json(&["contact", "show", "ann@example.com"]);
    assert!(ann["contact"]["fields"]["phone"].is_null(), "{ann}");
    assert!(!ann["contact"]["responded_on"].is_null(), "{ann}");

    // Two new people tick the box: each gets one confirmation text and no consent yet.
    for (email, phone) in [("dana@example.com", "+12175550142"), ("eli@example.com", "+12175550143")] {
        let pairs = [("email", email), ("phone", phone), ("sms_consent", "yes")];
        assert_eq!(post_form(base, "web", &pairs), 303);
    }
    let texts = |to: &str| {
        env.twilio()
            .requests()
            .into_iter()
            .filter(|r| r["form"]["To"] == to)
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while (texts("+12175550142").is_empty() || texts("+12175550143").is_empty()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let asked = texts("+12175550142");
    assert_eq!(asked.len(), 1, "{asked:?}");
    let body = asked[0]["form"]["Body"].as_str().unwrap();
    assert!(body.contains("reply YES") && body.contains("Reply STOP to opt out"), "{body}");
    let dana = env.json(&["contact", "show", "dana@example.com"]);
    assert!(dana["contact"]["fields"]["sms_consent"].is_null(), "{dana}");
    assert!(
        dana["contact"]["fields"]["sms_consent_pending"]
            .as_str()
            .unwrap()
            .ends_with("lead form"),
        "{dana}"
    );
    // The same number again within the month: no second text.
    assert_eq!(
        post_form(
            base,
            "web",
            &[("email", "dana2@example.com"), ("phone", "+12175550142"), ("sms_consent", "yes")]
        ),
        303
    );

    // Dana replies YES through the signed webhook: her consent is confirmed; Eli never answers.
    assert_eq!(crate::compliance::post_sms(base, "+12175550142", "Yes", true).status, 200);
    let dana = env.json(&["contact", "show", "dana@example.com"]);
    let consent = dana["contact"]["fields"]["sms_consent"].as_str().unwrap_or_default();
    assert!(consent.contains("replied YES"), "{dana}");
    assert!(dana["contact"]["fields"]["sms_consent_pending"].is_null(), "{dana}");

    // 17 days on, the w3-checkin text of 8x8 is due for both: only Dana's goes out.
    let today = nurture::clock::Clock::System.today(chrono_tz::America::Chicago) + chrono::Duration::days(17);
    let now = format!("{today}T18:00:00Z");
    let s = env.json(&["run", "--now", &now]);
    assert_eq!(s["no_consent"], 1, "{s}");
    assert_eq!(texts("+12175550142").len(), 2, "the confirmation, then the plan's text");
    assert_eq!(texts("+12175550143").len(), 1, "only the confirmation");
    assert!(texts("+12175550177").is_empty());
}

#[test]
fn leads_are_limited_per_lead_and_a_timed_out_post_answers_its_key_with_the_real_result() {
    let mut redis = crate::support::private_redis::PrivateRedis::start(&tempfile::tempdir().unwrap().keep(), false);
    let env = TestEnv::new("leadbudget");
    env.patch_config(&crate::support::redis_url(), &redis.url());
    env.patch_config("[delivery]\n", SETUP);
    env.patch_config("per_minute = 12\n", "per_minute = 10\nmax_per_request = 8\n");
    env.patch_config("[privacy]\n", "[server]\nrequest_timeout_secs = 1\n\n[privacy]\n");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let base = server.base.as_str();
    let batch = |from: usize, n: usize| {
        let leads: Vec<Value> = (from..from + n)
            .map(|i| serde_json::json!({"email": format!("b{i}@example.com")}))
            .collect();
        serde_json::to_string(&leads).unwrap()
    };
    let stored = |from: usize, n: usize| {
        (from..from + n)
            .filter(|i| env.nurture(&["contact", "show", &format!("b{i}@example.com")]).status.success())
            .count()
    };
    // More leads than a post may hold: 413, none stored.
    let (status, body) = post(base, "web-key-0123456789", &batch(0, 9), &[]);
    assert_eq!(status, 413, "{body}");
    assert!(body.to_string().contains("max_per_request"), "{body}");
    assert_eq!(stored(0, 9), 0);
    // The minute's budget is 10 leads: 6 go in; a post of 6 more is refused whole; 4 still fit.
    assert_eq!(post(base, "web-key-0123456789", &batch(100, 6), &[]).0, 201);
    assert_eq!(post(base, "web-key-0123456789", &batch(200, 6), &[]).0, 429);
    assert_eq!(stored(200, 6), 0, "a refused post stores none of its leads");
    assert_eq!(post(base, "web-key-0123456789", &batch(300, 4), &[]).0, 201);
    assert_eq!(stored(100, 6) + stored(300, 4), 10);

    // Redis stalls for 2.5 s: the post's request times out (408), the post itself finishes,
    // and a retry with its key gets the real answer — not 409.
    let mut conn = redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(2500).arg("ALL").query(&mut conn).unwrap();
    let key = [("Idempotency-Key", "slow-1")];
    let one = r#"{"email":"slow@example.com","first_name":"Slow"}"#;
    let (status, _) = post(base, "zillow-key-0123456789", one, &key);
    assert_eq!(status, 408);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let (status, body) = post(base, "zillow-key-0123456789", one, &key);
    assert_eq!(status, 201, "the retry answers what the timed-out post did: {body}");
    assert_eq!(body["contact"], "slow@example.com", "{body}");
    assert!(env.nurture(&["contact", "show", "slow@example.com"]).status.success());
    redis.kill();
}

#[test]
fn a_contacts_first_source_is_kept_and_agents_match_in_any_case() {
    let env = TestEnv::new("leadsource");
    env.patch_config("[delivery]\n", SETUP);
    env.import("email,first_name,source\nkim@example.com,Kim,open_house\n", &[]);
    // A later file says zillow, by column and by --source: her source stays, the history says why.
    env.import("email,first_name,source\nkim@example.com,Kim,zillow\n", &[]);
    env.import("email,first_name\nkim@example.com,Kimberly\n", &["--source", "facebook"]);
    let kim = env.json(&["contact", "show", "kim@example.com"]);
    assert_eq!(kim["contact"]["fields"]["source"], "open_house", "{kim}");
    assert_eq!(
        kim["contact"]["fields"]["first_name"], "Kimberly",
        "other columns still update: {kim}"
    );
    let history = events(&env, "kim@example.com");
    assert!(
        history
            .iter()
            .any(|e| e.starts_with("source_kept") && e.contains("zillow") && e.contains("open_house")),
        "{history:?}"
    );
    assert!(
        history.iter().any(|e| e.starts_with("source_kept") && e.contains("facebook")),
        "{history:?}"
    );
    // The report credits her to where she came from.
    env.ok(&["record", "deal", "kim@example.com", "--value", "1000"]);
    let report = env.ok(&["report", "--json"]);
    assert!(report.contains("open_house"), "{report}");

    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let (status, body) = post(
        &server.base,
        "web-key-0123456789",
        r#"{"email":"lee@example.com","agent":"Omar"}"#,
        &[],
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["agent"], "omar", "{body}");
    let (status, body) = post(
        &server.base,
        "web-key-0123456789",
        r#"{"email":"max@example.com","agent":"Nobody"}"#,
        &[],
    );
    assert_eq!(status, 422, "{body}");
}
