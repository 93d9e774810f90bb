//! The marketers' loop: lint with every problem at once, preview, snapshots of fully rendered
//! messages, the `/preview` pages in a real browser, and live edits in `serve` and `work`.

use crate::support::{TestEnv, header, http};
use crate::{CONTACTS, DATE, NOW, parse};
use std::time::{Duration, Instant};

const BROKEN_TIP: &str = "subject: A tip for {{contact.pet}} lovers\n---\n{{#> layouts/email}}\n{{> partials/greting}}\n\
<p>{{contact.nick}} and {{sender.phone}} on {{formt_date today}}</p>\n{{/layouts/email}}\n";

#[test]
fn lint_reports_every_problem_at_once_with_snippets_and_contact_counts() {
    let env = TestEnv::new("lintall");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    env.write("templates/8x8/home-tip.email.hbs", BROKEN_TIP);
    env.write("templates/orphan.sms.hbs", "Hi. Reply STOP to opt out\n");
    let out = env.nurture(&["lint"]);
    assert_eq!(out.status.code(), Some(1), "errors exit 1");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let tip = "templates/8x8/home-tip.email.hbs";
    for want in [
        // Olivia has a pet, Ahmed and Grace do not: a warning with the count.
        format!("{tip}:1:22: warning: `contact.pet` (8x8 touch \"w6-home-tip\") is empty for 2 of 3 contacts"),
        format!("{tip}:4:5: error: unknown partial `partials/greting`"),
        format!("{tip}:5:6: error: `contact.nick` (8x8 touch \"w6-home-tip\"): no contact has a `nick` column (3 contacts checked)"),
        format!("{tip}:5:27: error: `sender.phone`: no contact column or system variable provides this variable"),
        format!("{tip}:5:47: error: unknown helper `formt_date`"),
        "templates/orphan.sms.hbs:1:1: warning: no plan uses this template".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in:\n{text}");
    }
    // rustc style: the offending line, a caret under the column, a hint.
    assert!(
        text.contains("  |\n4 | {{> partials/greting}}\n  |     ^^^^^^^^^^^^^^^^\n  = help: did you mean `partials/greeting`?"),
        "{text}"
    );
    let caret = format!("  | {}{}\n  = help: did you mean `sender.name`?", " ".repeat(26), "^".repeat(12));
    assert!(text.contains(&caret), "{text}");
    // Without the contacts (no Redis, or --offline) a custom field cannot be judged: a warning.
    let offline = String::from_utf8_lossy(&env.nurture(&["lint", "--offline"]).stdout).to_string();
    assert!(
        offline.contains(&format!(
            "{tip}:5:6: warning: custom field `contact.nick` (8x8 touch \"w6-home-tip\"): a contact without it does not get this message (contacts not checked)"
        )),
        "{offline}"
    );
    // --json for editors and CI: the same problems, machine-readable.
    let json: serde_json::Value = serde_json::from_slice(&env.nurture(&["lint", "--json"]).stdout).unwrap();
    let nick = json
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("nick"))
        .unwrap();
    assert_eq!(
        (nick["line"].as_u64(), nick["col"].as_u64(), nick["len"].as_u64()),
        (Some(5), Some(6), Some(12))
    );
    assert_eq!(nick["severity"], "error");
    // run refuses exactly what lint refuses: a column no contact has stops it before anything is queued.
    env.write(
        "templates/8x8/home-tip.email.hbs",
        &std::fs::read_to_string(env.path().join("templates/8x8/welcome.email.hbs"))
            .unwrap()
            .replace("<p>Thank you", "<p>{{contact.nick}} Thank you"),
    );
    let run = env.nurture(&["run", "--now", NOW]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("no contact has a `nick` column"));
    assert_eq!(env.sink().count(), 0);
    // Fixed: warnings only, exit 0, and run goes ahead.
    env.write(
        "templates/8x8/home-tip.email.hbs",
        &std::fs::read_to_string(env.path().join("templates/8x8/welcome.email.hbs"))
            .unwrap()
            .replace(
                "<p>Thank you",
                "<p>{{#if contact.pet}}Hello to your {{contact.pet}}!{{/if}} Thank you",
            ),
    );
    std::fs::remove_file(env.path().join("templates/orphan.sms.hbs")).unwrap();
    let out = env.nurture(&["lint"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(env.nurture(&["run", "--now", NOW]).status.success());
}

#[test]
fn lint_counts_contacts_lacking_an_unguarded_known_column() {
    let env = TestEnv::new("lintknown");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    env.write(
        "templates/8x8/checkin.sms.hbs",
        "Hi {{contact.last_name}}, {{sender.name}} here. Reply STOP to opt out\n",
    );
    let mut csv = String::from(CONTACTS);
    csv.push_str("Nolast,,nolast@example.com,,en,8x8,,\n");
    env.import(&csv, &["--enrolled-on", DATE]);
    let text = String::from_utf8_lossy(&env.nurture(&["lint"]).stdout).to_string();
    assert!(
        text.contains(
            "templates/8x8/checkin.sms.hbs:1:6: warning: `contact.last_name` (8x8 touch \"w3-checkin\") is empty for 1 of 4 contacts"
        ),
        "{text}"
    );
}

#[test]
fn preview_renders_samples_in_each_locale_on_a_chosen_date_with_sms_parts() {
    let env = TestEnv::new("previewloc");
    let ar = env.ok(&[
        "preview",
        "8x8/welcome",
        "--locale",
        "ar",
        "--date",
        "2026-03-20",
        "--format",
        "html",
    ]);
    assert!(ar.contains("dir=\"rtl\"") && ar.contains("عزيزي/عزيزتي سارة"), "{ar}");
    assert!(
        ar.contains("20 مارس 2026 · 1 شوال 1447 هـ"),
        "Gregorian and Hijri date of Eid al-Fitr: {ar}"
    );
    env.write(
        "templates/8x8/checkin.ar.sms.hbs",
        &format!(
            "{} Reply STOP to opt out",
            "مرحباً {{contact.first_name}}، معك {{sender.name}}.".repeat(4)
        ),
    );
    let sms = env.ok(&["preview", "8x8/checkin", "--locale", "ar"]);
    assert!(sms.contains("Encoding: UCS-2") && sms.contains("Segments: 3"), "{sms}");
    assert!(sms.contains("--- part 1/3 ---") && sms.contains("--- part 3/3 ---"), "{sms}");
}

/// Stable parts of a message for a snapshot: dates, ids, tokens and boundaries normalized.
fn normalized(eml: &str) -> String {
    let m = parse(eml);
    let mut out = String::new();
    // Unfolded header fields, one a line.
    let head = eml.split("\r\n\r\n").next().unwrap().replace("\r\n ", " ");
    for line in head.split("\r\n") {
        let name = line.split(':').next().unwrap_or("");
        let line = match name {
            "Date" => "Date: [date]".to_string(),
            "Content-Type" => "Content-Type: multipart/alternative; boundary=[boundary]".to_string(),
            "Message-ID" => "Message-ID: <[hash]@example.com>".to_string(),
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let token = regex::Regex::new(r"/u/[A-Za-z0-9_\-]+").unwrap();
    out.push_str(&format!("\nSubject (decoded): {}\n", m.subject().unwrap_or("")));
    out.push_str(&format!("\n--- text/plain ---\n{}\n", m.body_text(0).unwrap()));
    out.push_str(&format!("--- text/html ---\n{}\n", m.body_html(0).unwrap()));
    token.replace_all(&out, "/u/[token]").into_owned()
}

#[test]
fn snapshots_of_fully_rendered_messages() {
    let env = TestEnv::new("snapshots");
    let en = env.ok(&["preview", "8x8/welcome", "--date", DATE, "--format", "eml"]);
    insta::assert_snapshot!("english_email", normalized(&en));
    let ar = env.ok(&["preview", "8x8/free-report", "--locale", "ar", "--date", DATE, "--format", "eml"]);
    // The subject travels RFC 2047-encoded and decodes back to the Arabic text.
    assert!(header(&ar.replace("\r\n", "\n"), "Subject").unwrap().starts_with("=?utf-8?b?"));
    insta::assert_snapshot!("arabic_email", normalized(&ar));
    env.write(
        "templates/8x8/checkin.ar.sms.hbs",
        &format!(
            "{} Reply STOP to opt out",
            "مرحباً {{contact.first_name}}، معك {{sender.name}}.".repeat(4)
        ),
    );
    insta::assert_snapshot!("arabic_sms", env.ok(&["preview", "8x8/checkin", "--locale", "ar", "--date", DATE]));
    // Compliance stays explicit, not only in the snapshot.
    for eml in [&en, &ar] {
        let m = parse(eml);
        assert!(m.body_html(0).unwrap().contains("12 Main St, Springfield, IL 62701"));
        assert!(m.body_text(0).unwrap().contains("/u/"));
        assert_eq!(
            header(&eml.replace("\r\n", "\n"), "List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );
    }
}

fn with_preview_token(env: &TestEnv) {
    env.patch_config(
        "[unsubscribe]\n",
        "[server]\npreview_token = \"pv-token-0123456789\"\n\n[unsubscribe]\n",
    );
}

#[test]
fn preview_pages_need_the_token_and_are_off_without_one() {
    let env = TestEnv::new("previewauth");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    assert_eq!(
        http("GET", &format!("{}/preview", server.base), &[], "").status,
        404,
        "off without a token"
    );
    drop(server);
    with_preview_token(&env);
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let page = http("GET", &format!("{}/preview", server.base), &[], "");
    assert_eq!(page.status, 401);
    assert!(page.body.contains("name=\"token\""), "a login form: {}", page.body);
    let wrong = http("GET", &format!("{}/preview", server.base), &[("Authorization", "Bearer nope")], "");
    assert_eq!(wrong.status, 401);
    let auth = [("Authorization", "Bearer pv-token-0123456789")];
    let list = http("GET", &format!("{}/preview", server.base), &auth, "");
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("8x8/welcome") && list.body.contains("8x8 / w1-welcome"),
        "{}",
        list.body
    );
    let sms = http(
        "GET",
        &format!("{}/preview/t/8x8/checkin?contact=ahmed%40example.com", server.base),
        &auth,
        "",
    );
    assert_eq!(sms.status, 200);
    assert!(
        sms.body.contains("UCS-2") && sms.body.contains("id=\"segments\">2<"),
        "{}",
        sms.body
    );
    let missing = http("GET", &format!("{}/preview/t/8x8/welcome?contact=nobody", server.base), &auth, "");
    assert_eq!(missing.status, 404);
    let login = |token: &str| {
        http(
            "POST",
            &format!("{}/preview/login", server.base),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &format!("token={token}"),
        )
    };
    let bad = login("nope");
    assert_eq!(bad.status, 401);
    assert!(!bad.headers.to_ascii_lowercase().contains("set-cookie"));
    let good = login("pv-token-0123456789");
    assert_eq!(good.status, 303);
    let cookie = good
        .headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("pv-token-0123456789"),
        "{cookie}"
    );
    let value = cookie.split(';').next().unwrap();
    assert_eq!(
        http("GET", &format!("{}/preview", server.base), &[("Cookie", value)], "").status,
        200
    );
}

/// Real browser: sign in, pick a template from the list, read the headers, look inside the
/// HTML frame, render it for an Arabic contact; screenshots are kept and printed.
#[test]
fn browser_preview_pages() {
    let Some(driver) = crate::support::browser::Driver::start() else {
        panic!("chromium and chromedriver are required (Debian: apt-get install chromium chromium-driver)");
    };
    let env = TestEnv::new("browserpv");
    with_preview_token(&env);
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let s = driver.session();
    s.goto(&format!("{}/preview", server.base));
    s.type_into("#token", "pv-token-0123456789");
    s.click("#login");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.text("#templates").contains("8x8/welcome"));
    s.click("a.template[href^='/preview/t/8x8/welcome?']");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.text("#subject").contains("local market report is here"), "{}", s.text("#subject"));
    assert!(s.text("#headers").contains("List-Unsubscribe-Post"));
    s.switch_to_frame("#html");
    assert!(s.text("body").contains("Dear Sam,"), "the HTML part renders in the frame");
    s.switch_to_parent();
    s.screenshot("preview-en");
    s.type_into("#contact", "ahmed@example.com");
    s.click("#choose");
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.text("#subject").contains("أحمد"), "{}", s.text("#subject"));
    s.switch_to_frame("#html");
    assert_eq!(s.attribute("html", "dir"), "rtl");
    assert!(s.text("body").contains("عزيزي/عزيزتي أحمد"));
    s.switch_to_parent();
    s.scroll_to("#html");
    // The frame is painted a moment after scrolling: a blank picture is a few KB.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut shot = s.screenshot("preview-ar");
    while std::fs::metadata(&shot).unwrap().len() <= 10_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        shot = s.screenshot("preview-ar");
    }
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a real picture");
}

/// Waits until `path`'s text contains `want`.
fn wait_for_log(path: &std::path::Path, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(want) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {want:?} in the log:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The decoded subjects of the delivered messages, once `n` have arrived whole (or after 20 s).
fn wait_for_subjects(env: &TestEnv, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // smtp-sink writes a dump file while the message arrives: read only whole ones.
        let subjects: Vec<String> = env
            .sink()
            .messages()
            .iter()
            .filter_map(|m| mail_parser::MessageParser::default().parse(m.as_bytes()))
            .filter_map(|m| m.subject().map(str::to_string))
            .collect();
        if subjects.len() >= n || Instant::now() > deadline {
            return subjects;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn live_edits_reach_serve_and_a_broken_edit_keeps_the_last_good_version() {
    let env = TestEnv::new("liveserve");
    with_preview_token(&env);
    env.patch_config("[delivery]\n", "[paths]\nreload_secs = 1\n\n[delivery]\n");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let log = env.path().join("serve.log");
    let server = env.serve_logged(&["--no-schedule"], &log);
    let welcome = env.path().join("templates/8x8/welcome.email.hbs");
    let original = std::fs::read_to_string(&welcome).unwrap();
    env.write(
        "templates/8x8/welcome.email.hbs",
        &original.replace("local market report is here", "EDITED market report"),
    );
    wait_for_log(&log, "reloaded plans and templates");
    // The run only queues; serve's worker renders with the edited template.
    env.ok(&["run", "--now", NOW, "--enqueue-only"]);
    let got = wait_for_subjects(&env, 3);
    assert!(got.iter().any(|s| s == "Olivia, your EDITED market report"), "{got:?}");
    // A broken edit: logged with its position, the last good version stays in use.
    env.write(
        "templates/8x8/welcome.email.hbs",
        "subject: Hi\n---\n<p>{{contact.first_name}</p>\n",
    );
    let text = wait_for_log(&log, "the last good version stays in use");
    assert!(text.contains("templates/8x8/welcome.email.hbs:3:"), "{text}");
    let auth = [("Authorization", "Bearer pv-token-0123456789")];
    let page = http("GET", &format!("{}/preview/t/8x8/welcome", server.base), &auth, "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sam, your EDITED market report"), "{}", page.body);
    assert_eq!(http("GET", &format!("{}/healthz", server.base), &[], "").status, 200);
    assert!(server.terminate().success());
}

#[test]
fn live_edits_reach_a_running_worker() {
    let env = TestEnv::new("livework");
    env.patch_config("[delivery]\n", "[paths]\nreload_secs = 1\n\n[delivery]\n");
    env.import(CONTACTS, &["--enrolled-on", DATE]);
    let log = env.path().join("work.log");
    let mut worker = env
        .command(&["work"])
        .env("NURTURE_LOG", "nurture=info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for_log(&log, "worker started");
    let welcome = env.path().join("templates/8x8/welcome.email.hbs");
    let edited = std::fs::read_to_string(&welcome)
        .unwrap()
        .replace("local market report is here", "fresh numbers");
    env.write("templates/8x8/welcome.email.hbs", &edited);
    wait_for_log(&log, "reloaded plans and templates");
    env.ok(&["run", "--now", NOW, "--enqueue-only"]);
    let got = wait_for_subjects(&env, 3);
    let _ = worker.kill();
    let _ = worker.wait();
    assert!(got.iter().any(|s| s == "Olivia, your fresh numbers"), "{got:?}");
}

#[test]
fn lint_checks_compliance_of_templates_with_custom_fields_too() {
    let env = TestEnv::new("lintcustom");
    env.write("templates/8x8/checkin.sms.hbs", "Hi {{contact.pet}} lover, {{sender.name}} here.\n");
    let text = String::from_utf8_lossy(&env.nurture(&["lint", "--offline"]).stdout).to_string();
    assert!(
        text.contains("templates/8x8/checkin.sms.hbs:1:1: error: the SMS must contain the opt-out text"),
        "{text}"
    );
}

#[test]
fn preview_refuses_an_sms_the_worker_would_refuse() {
    let env = TestEnv::new("previewsms");
    env.write("templates/nostop.sms.hbs", "Hi {{contact.first_name}}, new listings this week.\n");
    let out = env.nurture(&["preview", "nostop", "--sample"]);
    assert!(!out.status.success(), "an SMS without the opt-out text is not previewed as fine");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nostop") && err.contains("Reply STOP to opt out"), "{err}");
    assert!(env.nurture(&["preview", "8x8/checkin", "--sample"]).status.success());
}
