//! The agent's day from a phone: the agenda email's signed links, opened in Chromium at a
//! phone's viewport, act once each, on that item only; a GET (a mail scanner's prefetch)
//! changes nothing; the CLI does the same actions.

use crate::support::{TestEnv, http};
use crate::{DATE, NOW, parse};
use serde_json::Value;

const AGENTS: &str = "[agents.sara]\nname = \"Sara Haddad\"\nemail = \"sara.agent@example.com\"\nphone = \"+12175550100\"\n\n\
[agents.omar]\nname = \"Omar Said\"\nemail = \"omar.agent@example.com\"\nphone = \"+12175550101\"\nlocale = \"ar\"\n\n";

/// Enrolled three weeks before DATE: 8x8's `w4-call` is due on DATE.
const PEOPLE: &str = "first_name,last_name,email,phone,agent\n\
Ann,Call,ann@example.com,(217) 201-0301,sara\n\
Ben,Reply,ben@example.com,(217) 201-0302,sara\n\
Cai,Busy,cai@example.com,(217) 201-0303,sara\n\
Dee,Nophone,dee@example.com,,sara\n\
ليلى,حداد,layla@example.com,(217) 201-0305,omar\n";

fn setup(name: &str) -> TestEnv {
    let env = TestEnv::new(name);
    env.patch_config("[delivery]\n", &format!("{AGENTS}[agenda]\nlink_days = 400\n\n[delivery]\n"));
    env.import(PEOPLE, &["--plan", "8x8", "--enrolled-on", "2026-10-30"]);
    env
}

/// The agenda email sent to `address`: its HTML part.
fn agenda_html(env: &TestEnv, address: &str) -> String {
    let raw = env
        .sink()
        .messages()
        .into_iter()
        .find(|m| m.contains(&format!("<{address}>")) && m.contains("agenda"))
        .unwrap_or_else(|| panic!("no agenda email to {address}"));
    parse(&raw).body_html(0).unwrap().to_string()
}

/// The item block of `who` in an agenda email, and its link for `action` (`done`, ...).
fn block<'a>(html: &'a str, who: &str) -> &'a str {
    html.split("<div class=\"item\"")
        .skip(1)
        .find(|b| b.contains(who))
        .unwrap_or_else(|| panic!("no item of {who} in {html}"))
}

fn link(html: &str, who: &str, action: &str) -> String {
    let b = block(html, who);
    let at = b.find(&format!("class=\"act-{action}\" href=\"")).unwrap() + format!("class=\"act-{action}\" href=\"").len();
    b[at..at + b[at..].find('"').unwrap()].replace("&amp;", "&")
}

fn open_items(env: &TestEnv, agent: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(&env.ok(&["agenda", "--date", DATE, "--agent", agent, "--format", "json"])).unwrap();
    v.as_array().unwrap().clone()
}

fn names(items: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = items.iter().map(|i| i["name"].as_str().unwrap().to_string()).collect();
    n.sort();
    n
}

fn history(env: &TestEnv, who: &str) -> String {
    env.ok(&["contact", "show", who])
}

/// Width of a PNG in pixels (its IHDR).
fn png_width(path: &std::path::Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    u32::from_be_bytes(bytes[16..20].try_into().unwrap())
}

#[test]
fn agenda_links_act_once_each_from_a_phone_and_a_prefetch_changes_nothing() {
    let Some(driver) = crate::support::browser::Driver::start() else {
        panic!("chromium and chromedriver are required (Debian: apt-get install chromium chromium-driver)");
    };
    let env = setup("agentlinks");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    env.patch_config("http://127.0.0.1:8080", &server.base);
    let s = env.json(&["run", "--date", DATE, "--now", NOW]);
    assert_eq!(s["agenda_mailed"], 2, "Sara and Omar: {s}");
    let html = agenda_html(&env, "sara.agent@example.com");
    // Phones are links; a call without a phone says so and offers the email.
    let ann = block(&html, "Ann Call");
    assert!(
        ann.contains("href=\"tel:+12172010301\"") && ann.contains("href=\"sms:+12172010301\""),
        "{ann}"
    );
    let dee = block(&html, "Dee Nophone");
    assert!(
        dee.contains("No phone number") && dee.contains("href=\"mailto:dee@example.com\"") && !dee.contains("tel:"),
        "{dee}"
    );
    assert_eq!(
        names(&open_items(&env, "sara")),
        ["Ann Call", "Ben Reply", "Cai Busy", "Dee Nophone"]
    );

    // A mail scanner fetches every link: nothing changes.
    for who in ["Ann Call", "Ben Reply", "Cai Busy", "Dee Nophone"] {
        for action in ["done", "answered", "no-answer", "not-interested"] {
            let r = http("GET", &link(&html, who, action), &[], "");
            assert_eq!(r.status, 200, "{who} {action}: {}", r.body);
        }
    }
    assert_eq!(open_items(&env, "sara").len(), 4);
    assert!(!history(&env, "ann@example.com").contains("done "), "a GET acts on nothing");

    // Done, from a phone.
    let phone = driver.phone_session();
    let done = link(&html, "Ann Call", "done");
    phone.goto(&done);
    phone.wait_for("#act");
    assert!(phone.text("h1").contains("Done"), "{}", phone.text("body"));
    assert_eq!(phone.attribute("#tel", "href"), "tel:+12172010301");
    let fits = phone.run(
        "const b = document.querySelector('#act').getBoundingClientRect();\
         return [document.documentElement.scrollWidth, window.innerWidth, b.left, b.right, b.bottom, window.innerHeight];",
        serde_json::json!([]),
    );
    let f: Vec<f64> = fits.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(f[1], 390.0, "a phone's viewport: {f:?}");
    assert!(f[0] <= f[1], "no sideways scrolling at 390 px: {f:?}");
    assert!(f[2] >= 0.0 && f[3] <= f[1] && f[4] <= f[5], "the button is on screen: {f:?}");
    let shot = phone.screenshot("agenda-link-confirm-390");
    assert_eq!(png_width(&shot), 780, "390 CSS px at 2 device pixels");
    phone.click("#act");
    phone.wait_for("#result");
    assert_eq!(phone.text("#result"), "Recorded: Done.");
    phone.screenshot("agenda-link-done-390");
    assert_eq!(names(&open_items(&env, "sara")), ["Ben Reply", "Cai Busy", "Dee Nophone"]);
    assert!(history(&env, "ann@example.com").contains("done         8x8 / w4-call — call"));
    // The same link again, and another link of the closed item: closed, nothing changes.
    phone.goto(&done);
    phone.wait_for("#closed");
    let again = http("POST", &done, &[("Content-Type", "application/x-www-form-urlencoded")], "");
    assert!(again.body.contains("id=\"closed\""), "{}", again.body);
    let late = http("POST", &link(&html, "Ann Call", "answered"), &[], "");
    assert!(late.body.contains("id=\"closed\""), "{}", late.body);
    assert_eq!(history(&env, "ann@example.com").matches("done ").count(), 1);
    assert!(!history(&env, "ann@example.com").contains("response"));

    // Answered, with a note: a response, and `new` moves to `contacted`.
    phone.goto(&link(&html, "Ben Reply", "answered"));
    phone.wait_for("#note");
    phone.type_into("#note", "Wants a valuation in March");
    phone.click("#act");
    phone.wait_for("#result");
    let ben = history(&env, "ben@example.com");
    assert!(
        ben.contains("response") && ben.contains("call: Wants a valuation in March"),
        "{ben}"
    );
    assert!(ben.contains("new → contacted: response"), "{ben}");

    // No answer: noted, the item stays open; the link acts once.
    let no_answer = link(&html, "Cai Busy", "no-answer");
    let r = http(
        "POST",
        &no_answer,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "note=voicemail",
    );
    assert!(r.body.contains("id=\"result\""), "{}", r.body);
    let r = http("POST", &no_answer, &[], "");
    assert!(r.body.contains("id=\"used\""), "{}", r.body);
    assert_eq!(history(&env, "cai@example.com").matches("no_answer").count(), 1);
    assert!(names(&open_items(&env, "sara")).contains(&"Cai Busy".to_string()), "rolls over");
    // Not interested: closed, and the contact is lost for that reason.
    let r = http("POST", &link(&html, "Cai Busy", "not-interested"), &[], "");
    assert!(r.body.contains("id=\"result\""), "{}", r.body);
    let cai = history(&env, "cai@example.com");
    assert!(cai.contains("→ lost: not interested"), "{cai}");
    assert_eq!(names(&open_items(&env, "sara")), ["Dee Nophone"]);

    // A forged or altered link: 404, nothing changes.
    let dee_done = link(&html, "Dee Nophone", "done");
    let forged = format!(
        "{}{}",
        &dee_done[..dee_done.len() - 3],
        if dee_done.ends_with("AAA") { "BBB" } else { "AAA" }
    );
    assert_eq!(http("POST", &forged, &[], "").status, 404);
    // Omar's email and pages are Arabic, right to left.
    let omar = agenda_html(&env, "omar.agent@example.com");
    assert!(omar.contains("dir=\"rtl\"") && omar.contains(">تم</a>"), "{omar}");
    phone.goto(&link(&omar, "ليلى", "done"));
    phone.wait_for("#act");
    assert_eq!(phone.attribute("html", "dir"), "rtl");
    assert!(phone.text("#act").contains("تم"));
    phone.screenshot("agenda-link-confirm-390-ar");
    assert_eq!(
        names(&open_items(&env, "sara")),
        ["Dee Nophone"],
        "Omar's page changed nothing of Sara's"
    );
    drop(phone);
    server.terminate();

    // The CLI does the same: Dee has no phone, Sara wrote instead — no answer, then not interested.
    let dee = open_items(&env, "sara");
    let code = dee[0]["short"].as_str().unwrap();
    assert!(env.ok(&["agenda", "no-answer", code]).starts_with("no answer (stays open)"));
    assert!(
        env.ok(&["agenda", "not-interested", code, "--note", "bought elsewhere"])
            .starts_with(&format!("not-interested: {code}"))
    );
    let d = history(&env, "dee@example.com");
    assert!(d.contains("no_answer") && d.contains("→ lost: not interested"), "{d}");
    assert!(open_items(&env, "sara").is_empty());
}

#[test]
fn an_agenda_link_expires_and_a_reassigned_contact_is_not_the_old_agents() {
    let env = setup("agentexpiry");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    env.patch_config("http://127.0.0.1:8080", &server.base);
    env.json(&["run", "--date", DATE, "--now", NOW]);
    let html = agenda_html(&env, "sara.agent@example.com");
    // Ann goes to Omar: Sara's links for her stop acting.
    env.import("email,agent\nann@example.com,omar\n", &[]);
    let r = http("POST", &link(&html, "Ann Call", "done"), &[], "");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("id=\"not-yours\""), "{}", r.body);
    assert!(!history(&env, "ann@example.com").contains("done "));
    let old_base = server.base.clone();
    server.terminate();
    // Links live `link_days` after the agenda's date (2026-11-20): with 1 day they are gone.
    env.patch_config("link_days = 400", "link_days = 1");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let r = http("GET", &link(&html, "Ben Reply", "done").replace(&old_base, &server.base), &[], "");
    assert_eq!(r.status, 410, "{}", r.body);
    assert!(r.body.contains("id=\"expired\""));
    let r = http("POST", &link(&html, "Ben Reply", "done").replace(&old_base, &server.base), &[], "");
    assert_eq!(r.status, 410, "{}", r.body);
    // Nothing acted; Ann's call, still open, is on Omar's agenda now, not on Sara's.
    assert_eq!(names(&open_items(&env, "sara")), ["Ben Reply", "Cai Busy", "Dee Nophone"]);
    assert!(names(&open_items(&env, "omar")).contains(&"Ann Call".to_string()));
    server.terminate();
}
