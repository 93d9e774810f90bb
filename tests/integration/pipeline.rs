//! Tracking leads: pipeline stages moved by responses, deals, by hand (`contact status`) and by
//! a CRM (`POST /events`), each change in the history; `status` values checked on import; the
//! costs of lead sources kept per source and day.

use crate::DATE;
use crate::support::{TestEnv, http};
use serde_json::Value;

fn stage(env: &TestEnv, who: &str) -> String {
    env.json(&["contact", "show", who])["stage"].as_str().unwrap().to_string()
}

fn history(env: &TestEnv, who: &str) -> Vec<String> {
    env.json(&["contact", "show", who])["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "stage")
        .map(|e| format!("{} {}", e["at"].as_str().unwrap(), e["detail"].as_str().unwrap_or("")))
        .collect()
}

#[test]
fn stages_move_with_responses_deals_by_hand_and_from_a_crm() {
    let env = TestEnv::new("stages");
    let r = env.import(
        "email,first_name,status,plan\n\
         ann@example.com,Ann,,8x8\n\
         bo@example.com,Bo,Interested,8x8\n\
         cy@example.com,Cy,intrested,8x8\n\
         di@example.com,Di,new,8x8\n",
        &["--enrolled-on", DATE],
    );
    assert_eq!(r["created"], 3, "{r}");
    assert_eq!(r["rejected"][0]["line"], 4, "{r}");
    assert!(
        r["rejected"][0]["reason"].as_str().unwrap().contains("did you mean \"interested\""),
        "{r}"
    );
    assert_eq!(stage(&env, "ann@example.com"), "new");
    assert_eq!(stage(&env, "bo@example.com"), "interested");

    // A response moves `new` to `contacted`; a deal moves anyone to `client`.
    env.ok(&["record", "response", "ann@example.com", "--date", "2026-11-21"]);
    assert_eq!(stage(&env, "ann@example.com"), "contacted");
    env.ok(&["record", "response", "bo@example.com"]);
    assert_eq!(stage(&env, "bo@example.com"), "interested", "a response never moves back");
    env.ok(&["record", "deal", "ann@example.com", "--value", "350000", "--date", "2026-11-30"]);
    assert_eq!(stage(&env, "ann@example.com"), "client");
    assert_eq!(
        history(&env, "ann@example.com"),
        ["2026-11-21 new → contacted: response", "2026-11-30 contacted → client: deal"]
    );

    // By hand: `lost` needs a reason; a stage that does not exist gets a did-you-mean.
    let out = env.nurture(&["contact", "status", "bo@example.com", "lost"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a reason"));
    let out = env.nurture(&["contact", "status", "bo@example.com", "propsal"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean \"proposal\""));
    env.ok(&[
        "contact",
        "status",
        "bo@example.com",
        "Lost",
        "--reason",
        "bought elsewhere",
        "--date",
        "2026-12-01",
    ]);
    assert_eq!(stage(&env, "bo@example.com"), "lost");
    assert_eq!(history(&env, "bo@example.com"), ["2026-12-01 interested → lost: bought elsewhere"]);
    let shown = env.ok(&["contact", "show", "bo@example.com"]);
    assert!(shown.contains("stage        lost"), "{shown}");

    // From a CRM: `{"type": "stage"}` on POST /events.
    env.patch_config(
        "[unsubscribe]\n",
        "[server]\nevents_token = \"ev-token-0123456789\"\n\n[unsubscribe]\n",
    );
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let post = |body: &str| {
        http(
            "POST",
            &format!("{}/events", server.base),
            &[
                ("Authorization", "Bearer ev-token-0123456789"),
                ("Content-Type", "application/json"),
            ],
            body,
        )
    };
    let r = post(r#"{"type":"stage","contact":"di@example.com","stage":"proposal","reason":"sent the offer"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stage(&env, "di@example.com"), "proposal");
    let r = post(r#"{"type":"stage","contact":"di@example.com","stage":"lost"}"#);
    assert_eq!(r.status, 422, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["errors"][0].as_str().unwrap().contains("needs a reason"), "{v}");
    assert_eq!(stage(&env, "di@example.com"), "proposal");
}

#[test]
fn costs_of_lead_sources_are_kept_per_source_and_day() {
    let env = TestEnv::new("costs");
    let out = env.ok(&[
        "record",
        "cost",
        "zillow",
        "--amount",
        "1200",
        "--date",
        "2026-11-03",
        "--note",
        "premier agent",
    ]);
    assert!(out.contains("zillow in 2026-11 so far: 1200"), "{out}");
    let out = env.ok(&["record", "cost", "zillow", "--amount", "300.50", "--date", "2026-11-20"]);
    assert!(out.contains("so far: 1500.5"), "{out}");
    env.ok(&["record", "cost", "zillow", "--amount", "99", "--date", "2026-12-01"]);
    env.ok(&["record", "cost", "open-house", "--amount", "80", "--date", "2026-11-20"]);
    assert!(!env.nurture(&["record", "cost", "zillow", "--amount", "-5"]).status.success());
    let mut r = env.redis();
    let mut days: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg(format!("{}:costs:zillow", env.prefix))
        .query(&mut r)
        .unwrap();
    days.sort();
    assert_eq!(
        days,
        [
            ("2026-11-03".to_string(), "1200".to_string()),
            ("2026-11-20".to_string(), "300.5".to_string()),
            ("2026-12-01".to_string(), "99".to_string())
        ]
    );
    let log: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{}:costs:log", env.prefix))
        .arg(0)
        .arg(-1)
        .query(&mut r)
        .unwrap();
    assert_eq!(log.len(), 4);
    assert!(log[0].contains("\"note\":\"premier agent\""), "{log:?}");
}

#[test]
fn customers_are_scored_rfm_and_classed_abc_from_their_deals() {
    let env = TestEnv::new("rfm");
    env.import(
        "id,email,first_name\na,a@example.com,A\nb,b@example.com,B\nc,c@example.com,C\nd,d@example.com,D\ne,e@example.com,E\n",
        &[],
    );
    for (who, value, date) in [
        ("a", "400", "2026-11-01"),
        ("a", "200", "2026-12-01"),
        ("b", "250", "2026-06-01"),
        ("c", "100", "2026-11-20"),
        ("d", "50", "2025-12-01"),
    ] {
        env.ok(&["record", "deal", who, "--value", value, "--date", date]);
    }
    // The book checked by hand in the unit test: value 1000; b crosses 75 % and stays A.
    let rows = env.json(&["report", "customers", "--date", "2026-12-06"]);
    let got: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {} {}",
                r["contact_id"].as_str().unwrap(),
                r["recency_days"],
                r["frequency"],
                r["monetary"],
                r["rfm"].as_str().unwrap(),
                r["segment"].as_str().unwrap(),
                r["abc"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "a 5 2 600.0 555 Champions A",
            "b 188 1 250.0 344 Loyal A",
            "c 16 1 100.0 443 Champions B",
            "d 370 1 50.0 242 At risk C"
        ],
        "e has no deal and is no customer"
    );
    let csv = env.ok(&["report", "customers", "--date", "2026-12-06", "--csv"]);
    assert!(
        csv.starts_with("contact,recency_days,frequency,monetary,rfm,segment,abc\na,5,2,600.00,555,Champions,A\n"),
        "{csv}"
    );
    let text = env.ok(&["report", "customers", "--date", "2026-12-06"]);
    assert!(text.contains("4 customers on 2026-12-06: 2 A, 1 B, 1 C"), "{text}");
    // Other shares: [50, 30, 20] → a A (0 < 500), b B (600 < 800), c C (850 ≥ 800), d C.
    env.patch_config("[delivery]", "[report]\nabc = [50, 30, 20]\n\n[delivery]");
    let classes: Vec<String> = env
        .json(&["report", "customers", "--date", "2026-12-06"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["abc"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(classes, ["A", "B", "C", "C"]);
}

#[test]
fn agents_send_as_themselves_and_get_their_own_agenda() {
    let env = TestEnv::new("agents");
    env.patch_config(
        "timezone = \"America/Chicago\"\n",
        "timezone = \"America/Chicago\"\nphone = \"+12175550000\"\n",
    );
    env.patch_config(
        "[delivery]",
        "[agents.sara]\nname = \"Sara Haddad\"\nemail = \"sara.h@example.com\"\nphone = \"+12175550111\"\n\n\
         [agents.omar]\nname = \"عمر الشمري\"\nemail = \"omar@example.com\"\nphone = \"+966501112222\"\n\n[delivery]",
    );
    env.write(
        "jobs/agents.toml",
        "name = \"Agents\"\n\n[[touch]]\nid = \"hello\"\nafter = \"0d\"\nchannel = \"email\"\ntemplate = \"agents/hello\"\n\n\
         [[touch]]\nid = \"card\"\nafter = \"0d\"\nchannel = \"card\"\nnote = \"Welcome card\"\n",
    );
    env.write(
        "templates/agents/hello.email.hbs",
        "subject: Hello from {{agent.name}}\n---\n<p>Call me: {{agent.phone}} ({{agent.email}})</p>\n\
         <p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a> · {{sender.postal_address}}</p>\n",
    );
    assert!(env.nurture(&["lint"]).status.success(), "lint knows agent.*");
    env.import(
        "email,first_name,agent,plan\nann@example.com,Ann,sara,agents\nbo@example.com,Bo,OMAR,agents\ncy@example.com,Cy,,agents\n",
        &["--enrolled-on", DATE],
    );
    let s = env.json(&["run", "--date", DATE, "--now", crate::NOW]);
    assert_eq!(s["sent"], 3, "{s}");
    let messages = env.sink().messages();
    let to = |who: &str| {
        messages
            .iter()
            .find(|m| crate::support::header(m, "To").is_some_and(|t| t.contains(who)))
            .unwrap_or_else(|| panic!("no message to {who}"))
            .clone()
    };
    let ann = to("ann@example.com");
    assert!(
        crate::support::header(&ann, "From").unwrap().contains("<sara.h@example.com>"),
        "{ann}"
    );
    assert!(
        crate::support::header(&ann, "Reply-To").unwrap().contains("sara.h@example.com"),
        "{ann}"
    );
    assert!(ann.contains("+12175550111"), "{ann}");
    let bo = to("bo@example.com");
    assert!(
        crate::support::header(&bo, "From").unwrap().contains("<omar@example.com>"),
        "any case: {bo}"
    );
    // No agent: the practice's sender, no Reply-To, the office phone.
    let cy = to("cy@example.com");
    assert!(crate::support::header(&cy, "From").unwrap().contains("<sara@example.com>"), "{cy}");
    assert!(crate::support::header(&cy, "Reply-To").is_none(), "{cy}");
    assert!(cy.contains("+12175550000"), "{cy}");
    // Each agent got their own agenda at their own address.
    assert_eq!(s["agenda_mailed"], 2, "{s}");
    let agenda_to_sara = to("sara.h@example.com");
    assert!(
        agenda_to_sara.contains("Ann") && !agenda_to_sara.contains("Bo "),
        "{agenda_to_sara}"
    );
}

#[test]
fn the_agents_day_holds_a_set_number_of_calls_and_the_rest_roll_over() {
    let env = TestEnv::new("calls");
    env.patch_config("[delivery]", "[agenda]\nmax_calls_per_day = 5\n\n[delivery]");
    env.write(
        "jobs/calls.toml",
        "name = \"Calls\"\n\n[[touch]]\nid = \"intro\"\nafter = \"0d\"\nchannel = \"call\"\nnote = \"Intro call\"\n\n\
         [[touch]]\nid = \"card\"\nafter = \"0d\"\nchannel = \"card\"\nnote = \"Welcome card\"\n",
    );
    let mut csv = String::from("email,first_name,phone,agent,source,status,plan\n");
    for i in 0..12 {
        csv.push_str(&format!(
            "p{i:02}@example.com,P{i:02},+1217555{:04},sara,zillow,interested,calls\n",
            100 + i
        ));
    }
    env.import(&csv, &["--enrolled-on", DATE]);
    env.ok(&["run", "--date", DATE, "--now", crate::NOW]);
    let day = |extra: &[&str]| {
        let mut args = vec!["agenda", "--date", DATE];
        args.extend_from_slice(extra);
        env.ok(&args)
    };
    let md = day(&[]);
    let calls: Vec<&str> = md.lines().filter(|l| l.contains("**call**")).collect();
    assert_eq!(calls.len(), 5, "{md}");
    assert_eq!(
        md.lines().filter(|l| l.contains("**card**")).count(),
        12,
        "cards are never held back"
    );
    assert!(md.contains("7 more call(s) wait for the next days"), "{md}");
    assert!(
        calls[0].contains("stage: interested") && calls[0].contains("source: zillow"),
        "{md}"
    );
    // Only the cards; then the five calls are done and the next five come up.
    let cards = day(&["--channel", "card"]);
    assert!(!cards.contains("**call**") && cards.contains("**card**"), "{cards}");
    let codes: Vec<String> = calls.iter().map(|l| l.split('`').nth(1).unwrap().to_string()).collect();
    let mut args = vec!["agenda", "done"];
    args.extend(codes.iter().map(String::as_str));
    env.ok(&args);
    let md = day(&["--channel", "call"]);
    let next: Vec<&str> = md.lines().filter(|l| l.contains("**call**")).collect();
    assert_eq!(next.len(), 5, "{md}");
    assert!(next.iter().all(|l| !codes.iter().any(|c| l.contains(c.as_str()))), "{md}");
    assert!(md.contains("2 more call(s)"), "{md}");

    // Each item shows where its contact stands now: the stage of today, the last touch.
    let name = |line: &str| line.split("** ").nth(1).unwrap().split(" · ").next().unwrap().to_string();
    let called = name(calls[0]);
    let email = format!("{}@example.com", called.to_lowercase());
    env.ok(&["contact", "status", &email, "proposal"]);
    let cards = day(&["--channel", "card"]);
    let card = cards.lines().find(|l| l.contains("**card**") && name(l) == called).unwrap();
    assert!(
        card.contains("stage: proposal") && card.contains(" done intro"),
        "the stage now and the call just done: {card}"
    );
    assert!(card.contains("last touch: 20"), "{card}");

    // `--all-shown` closes what the last agenda listed (the five calls), nothing else.
    let md = day(&["--channel", "call"]);
    let shown: Vec<&str> = md.lines().filter(|l| l.contains("**call**")).collect();
    let done = env.ok(&["agenda", "done", "--all-shown"]);
    assert_eq!(done.lines().filter(|l| l.starts_with("done: ")).count(), 5, "{done}");
    let md = day(&["--channel", "call"]);
    let last: Vec<&str> = md.lines().filter(|l| l.contains("**call**")).collect();
    assert_eq!(last.len(), 2, "{md}");
    assert!(last.iter().all(|l| !shown.contains(l)), "{md}");
    assert_eq!(day(&["--channel", "card"]).matches("**card**").count(), 12, "cards were not shown");
    // Per agent: what was shown to sara, named in any case; a second time closes nothing more.
    day(&["--agent", "sara", "--channel", "call"]);
    let done = env.ok(&["agenda", "done", "--all-shown", "--agent", "SARA"]);
    assert_eq!(done.lines().filter(|l| l.starts_with("done: ")).count(), 2, "{done}");
    let again = env.ok(&["agenda", "done", "--all-shown", "--agent", "sara"]);
    assert!(again.contains("2 shown item(s) were no longer open"), "{again}");
    assert!(!day(&["--channel", "call"]).contains("**call**"));
}

/// Plans segment customers by the classes of `report customers`: the A and B customers get the
/// "vip" plan, the others move to "direct" (recorded, with the reason); a plan without
/// `otherwise` gives the others nothing; a wrong class name is a lint error at its line.
#[test]
fn plans_take_customers_by_abc_class_and_rfm_segment() {
    let env = TestEnv::new("segments");
    let email =
        |id: &str, template: &str| format!("[[touch]]\nid = \"{id}\"\nafter = \"0d\"\nchannel = \"email\"\ntemplate = \"{template}\"\n");
    env.write(
        "jobs/vip.toml",
        &format!(
            "name = \"VIP\"\n\n[segment]\nabc = [\"A\", \"B\"]\notherwise = \"direct\"\n\n{}",
            email("hello", "8x8/welcome")
        ),
    );
    env.write(
        "jobs/direct.toml",
        &format!("name = \"Direct\"\n\n{}", email("letter", "12-direct/monthly-letter")),
    );
    env.write(
        "jobs/champions.toml",
        &format!(
            "name = \"Champions\"\n\n[segment]\nrfm_segment = [\"Champions\"]\n\n{}",
            email("thanks", "8x8/welcome")
        ),
    );
    env.import(
        "email,first_name,plan\nann@example.com,Ann,vip\nbo@example.com,Bo,vip\ncy@example.com,Cy,vip\n\
         dee@example.com,Dee,vip\neli@example.com,Eli,champions\n",
        &["--enrolled-on", DATE],
    );
    // Values 75, 20, 4 and 1 (of 100): Ann A, Bo B, Cy and Eli C (the boundary rule); Dee has
    // no deal; Eli's one deal is old.
    for (who, value, date) in [
        ("ann", "75000", "2026-10-10"),
        ("bo", "20000", "2026-10-11"),
        ("cy", "4000", "2026-10-12"),
        ("eli", "1000", "2024-01-05"),
    ] {
        env.ok(&["record", "deal", &format!("{who}@example.com"), "--value", value, "--date", date]);
    }
    let customers = env.json(&["report", "customers", "--date", DATE]);
    let class = |who: &str| {
        let row = customers.as_array().unwrap().iter().find(|c| c["contact_id"] == who).unwrap();
        format!("{} {}", row["abc"].as_str().unwrap(), row["segment"].as_str().unwrap())
    };
    assert!(class("cy@example.com").starts_with("C "), "{customers}");
    assert!(!class("eli@example.com").ends_with(" Champions"), "{customers}");

    let s = env.json(&["run", "--date", DATE, "--now", crate::NOW]);
    assert_eq!((s["moved"].as_u64(), s["out_of_segment"].as_u64()), (Some(2), Some(1)), "{s}");
    let got = |who: &str, subject_part: &str| {
        env.sink()
            .messages()
            .iter()
            .filter(|m| m.contains(&format!("<{who}>")) && m.contains(subject_part))
            .count()
    };
    let welcome = "List-Unsubscribe"; // every marketing email has it
    for who in ["ann@example.com", "bo@example.com", "cy@example.com", "dee@example.com"] {
        assert_eq!(got(who, welcome), 1, "{who}: one email");
    }
    assert_eq!(got("eli@example.com", welcome), 0, "not a champion, and no `otherwise`");
    let plan = |who: &str| env.json(&["contact", "show", who])["contact"]["fields"]["plan"].clone();
    assert_eq!((plan("ann@example.com"), plan("bo@example.com")), ("vip".into(), "vip".into()));
    assert_eq!(
        (plan("cy@example.com"), plan("dee@example.com")),
        ("direct".into(), "direct".into())
    );
    assert_eq!(plan("eli@example.com"), "champions", "stays, in case its class changes");
    let cy = env.json(&["contact", "show", "cy@example.com"]);
    assert!(
        cy["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "moved" && e["detail"] == "from vip: not in the plan's segment (abc A, B)"),
        "{cy}"
    );
    let sent_to = |who: &str| {
        env.json(&["contact", "show", who])["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "sent")
            .map(|e| format!("{}/{}", e["plan"].as_str().unwrap(), e["touch"].as_str().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(sent_to("ann@example.com"), ["vip/hello"]);
    assert_eq!(sent_to("cy@example.com"), ["direct/letter"]);

    // A class that does not exist: lint names the file, line and the close one.
    env.write(
        "jobs/vip.toml",
        &format!(
            "name = \"VIP\"\n\n[segment]\nabc = [\"a\", \"B\"]\notherwise = \"direct\"\n\n{}",
            email("hello", "8x8/welcome")
        ),
    );
    let out = env.nurture(&["lint"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("vip.toml:4:") && text.contains("did you mean \"A\"?"), "{text}");
}
