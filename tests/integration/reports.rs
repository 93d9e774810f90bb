//! `nurture report`: every figure of a known dataset, worked out by hand, grouped by source,
//! touch and agent; the text, CSV and HTML forms (the page looked at in headless Chromium).

use crate::support::TestEnv;
use crate::{DATE, NOW};
use serde_json::Value;

/// Four leads of 2026-11-20: two from zillow and one from a referral for sara, one from an
/// open house for omar. The referral asked (through the operator) to be left alone before the
/// first email. Then: ann responds twice and buys twice, cy responds and buys once; zillow cost
/// 300, the open house 100, a radio spot that brought nobody 50; one cost after the period.
fn known_dataset() -> TestEnv {
    let env = TestEnv::new("report");
    env.patch_config("[delivery]\n", "[report]\nlocale = \"ar\"\n\n[delivery]\n");
    let r = env.import(
        "email,first_name,source,agent,plan\n\
         ann@example.com,Ann,zillow,sara,8x8\n\
         bo@example.com,Bo,zillow,sara,8x8\n\
         cy@example.com,Cy,open-house,omar,8x8\n\
         di@example.com,Di,referral,sara,8x8\n",
        &["--enrolled-on", DATE],
    );
    assert_eq!(r["created"], 4, "{r}");
    env.ok(&["suppress", "add", "di@example.com"]);
    let s = env.json(&["run", "--now", NOW]);
    assert_eq!((s["sent"].as_u64(), s["suppressed"].as_u64()), (Some(3), Some(1)), "{s}");
    for args in [
        &["record", "response", "ann@example.com", "--date", "2026-11-21"][..],
        &["record", "response", "ann@example.com", "--date", "2026-11-22"],
        &["record", "response", "cy@example.com", "--date", "2026-11-22"],
        &["record", "deal", "ann@example.com", "--value", "1000", "--date", "2026-11-22"],
        &["record", "deal", "ann@example.com", "--value", "500", "--date", "2026-11-23"],
        &["record", "deal", "cy@example.com", "--value", "2000", "--date", "2026-11-24"],
        &["record", "cost", "zillow", "--amount", "300", "--date", "2026-11-20"],
        &["record", "cost", "open-house", "--amount", "100", "--date", "2026-11-25"],
        &["record", "cost", "radio", "--amount", "50", "--date", "2026-11-26"],
        &["record", "cost", "zillow", "--amount", "999", "--date", "2026-12-01"],
    ] {
        env.ok(args);
    }
    env
}

fn report(env: &TestEnv, by: &str) -> Value {
    env.json(&["report", "--from", "2026-11-20", "--to", "2026-11-30", "--by", by])
}

fn row<'a>(r: &'a Value, group: &str) -> &'a Value {
    if group == "total" {
        return &r["total"];
    }
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == group)
        .unwrap_or_else(|| panic!("no row {group} in {r}"))
}

/// Asserts a row's figures; `None` is JSON null (a denominator of 0).
fn check(r: &Value, group: &str, counts: [u64; 10], money: [f64; 2], ratios: [Option<f64>; 6]) {
    let g = row(r, group);
    let names = [
        "leads",
        "reached",
        "sent",
        "failed",
        "suppressed",
        "unsubscribed",
        "responded",
        "customers",
        "deals",
        "failed",
    ];
    for (name, want) in names.iter().zip(counts) {
        assert_eq!(g[name].as_u64(), Some(want), "{group}: {name} in {g}");
    }
    for (name, want) in ["revenue", "cost"].iter().zip(money) {
        assert!((g[name].as_f64().unwrap() - want).abs() < 1e-6, "{group}: {name} in {g}");
    }
    let ratio_names = ["response_rate", "conversion_rate", "cpl", "cac", "roi", "clv"];
    for (name, want) in ratio_names.iter().zip(ratios) {
        match want {
            None => assert!(g[name].is_null(), "{group}: {name} should be null in {g}"),
            Some(want) => {
                let got = g[name].as_f64().unwrap_or_else(|| panic!("{group}: {name} is null in {g}"));
                assert!((got - want).abs() < 1e-6, "{group}: {name} = {got}, by hand {want}");
            }
        }
    }
}

/// CLV by hand: average deal value × deals per customer per year × 5 years − CAC; the 11 days
/// of the period count as a year (a period shorter than a year is never scaled up).
fn clv(revenue: f64, deals: f64, paying: f64, cac: f64) -> f64 {
    revenue / deals * (deals / paying) * 5.0 - cac
}

#[test]
fn every_figure_of_a_known_dataset_by_hand() {
    let env = known_dataset();

    let r = report(&env, "source");
    assert_eq!((r["from"].as_str(), r["to"].as_str()), (Some("2026-11-20"), Some("2026-11-30")));
    // zillow: ann and bo; ann responded (twice: one contact), bought twice (one customer).
    check(
        &r,
        "zillow",
        [2, 2, 2, 0, 0, 0, 1, 1, 2, 0],
        [1_500.0, 300.0],
        [
            Some(50.0),
            Some(50.0),
            Some(150.0),
            Some(300.0),
            Some(400.0),
            Some(clv(1_500.0, 2.0, 1.0, 300.0)),
        ],
    );
    check(
        &r,
        "open-house",
        [1, 1, 1, 0, 0, 0, 1, 1, 1, 0],
        [2_000.0, 100.0],
        [
            Some(100.0),
            Some(100.0),
            Some(100.0),
            Some(100.0),
            Some(1_900.0),
            Some(clv(2_000.0, 1.0, 1.0, 100.0)),
        ],
    );
    // di: suppressed at send time (her opt-out is today's, below).
    check(
        &r,
        "referral",
        [1, 0, 0, 0, 1, 0, 0, 0, 0, 0],
        [0.0, 0.0],
        [None, Some(0.0), Some(0.0), None, None, None],
    );
    check(
        &r,
        "radio",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0.0, 50.0],
        [None, None, None, None, Some(-100.0), None],
    );
    check(
        &r,
        "total",
        [4, 3, 3, 0, 1, 0, 2, 2, 3, 0],
        [3_500.0, 450.0],
        [
            Some(2.0 / 3.0 * 100.0),
            Some(50.0),
            Some(112.5),
            Some(225.0),
            Some((3_500.0 - 450.0) / 450.0 * 100.0),
            Some(clv(3_500.0, 3.0, 2.0, 225.0)),
        ],
    );
    assert_eq!(r["rows"].as_array().unwrap().len(), 4, "{r}");

    // By agent: sara's leads came from zillow and the referral, omar's from the open house;
    // the radio cost brought no lead, so it belongs to no agent.
    let r = report(&env, "agent");
    check(
        &r,
        "sara",
        [3, 2, 2, 0, 1, 0, 1, 1, 2, 0],
        [1_500.0, 300.0],
        [
            Some(50.0),
            Some(100.0 / 3.0),
            Some(100.0),
            Some(300.0),
            Some(400.0),
            Some(clv(1_500.0, 2.0, 1.0, 300.0)),
        ],
    );
    check(
        &r,
        "—",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0.0, 50.0],
        [None, None, None, None, Some(-100.0), None],
    );
    assert_eq!(row(&r, "omar")["revenue"], 2_000.0);

    // By touch: the responses and deals go to the last touch sent before them.
    let r = report(&env, "touch");
    let welcome = row(&r, "8x8/w1-welcome");
    assert_eq!(
        (welcome["sent"].as_u64(), welcome["responded"].as_u64()),
        (Some(3), Some(2)),
        "{welcome}"
    );
    assert_eq!(welcome["revenue"], 3_500.0);
    assert_eq!(row(&r, "—")["leads"], 4, "leads have no touch");
    assert_eq!(row(&r, "total")["revenue"], 3_500.0);

    // A period that starts after the deals: nothing of them; the December cost alone.
    let later = env.json(&["report", "--from", "2026-12-01", "--to", "2026-12-02"]);
    assert_eq!(later["total"]["revenue"], 0.0);
    assert_eq!(later["total"]["cost"], 999.0);

    // Text: an aligned table for people — labels in the report's language (Arabic here),
    // money with its currency and separators, percentages, `—` for a missing ratio; CSV: the
    // JSON's field names, plain numbers, the total row last.
    let text = env.ok(&["report", "--from", "2026-11-20", "--to", "2026-11-30"]);
    assert!(text.contains("معدل الاستجابة") && !text.contains("response_rate"), "{text}");
    let radio = text.lines().find(|l| l.trim_start().starts_with("radio")).unwrap();
    assert!(
        radio.contains('—') && radio.contains("-100.0%") && radio.contains("$50.00"),
        "{radio}"
    );
    let total = text.lines().find(|l| l.trim_start().starts_with("total")).unwrap();
    assert!(total.contains("$3,500.00") && total.contains("66.7%"), "{total}");
    let csv = env.ok(&["report", "--from", "2026-11-20", "--to", "2026-11-30", "--by", "plan", "--csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("plan,leads,reached,sent,"), "{csv}");
    assert!(lines.last().unwrap().starts_with("total,4,3,3,0,1,0,2,"), "{csv}");

    // The operator's `suppress add` of a contact is an opt-out, on the day it was done (today:
    // the default period, the last 30 days, holds it).
    let today = env.json(&["report"]);
    assert_eq!(row(&today, "referral")["unsubscribed"], 1, "{today}");
    assert_eq!(today["total"]["unsubscribed"], 1, "{today}");

    // `status` and the stats hash count the opt-out and the deals by the same names.
    let stats = env.json(&["status"]);
    assert!(stats.to_string().contains("\"sent\":3"), "{stats}");
}

#[test]
fn the_html_report_is_one_page_that_opens_offline_right_to_left() {
    let env = known_dataset();
    let file = env.path().join("report.html");
    let file_arg = file.to_str().unwrap();
    env.ok(&["report", "--from", "2026-11-20", "--to", "2026-11-30", "--html", file_arg]);
    let page = std::fs::read_to_string(&file).unwrap();
    assert!(page.contains("dir=\"rtl\""), "[report] locale = \"ar\" lays it out right to left");
    for id in ["funnel", "revenue", "roi", "over-time", "pareto", "groups"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "the page has its {id}");
    }
    assert!(
        !page.contains("<script") && !page.contains("src=") && !page.contains("http"),
        "self-contained"
    );
    let Some(driver) = crate::support::browser::Driver::start() else {
        panic!("chromium and chromedriver are required (Debian: apt-get install chromium chromium-driver)");
    };
    let s = driver.session();
    s.goto(&format!("file://{file_arg}"));
    assert_eq!(s.attribute("html", "dir"), "rtl");
    assert!(s.text("h1").contains("أرقام"), "{}", s.text("h1"));
    assert_eq!(
        s.text("#total-revenue b"),
        "$3,500.00",
        "money in [report] currency (USD), with separators"
    );
    assert!(s.text("#groups").contains("zillow"));
    let head = s.text("#groups thead");
    assert!(
        head.contains("معدل الاستجابة") && !head.contains("response_rate"),
        "Arabic labels: {head}"
    );
    assert!(s.text("#pareto").contains("A 2 · B 0 · C 0"), "{}", s.text("#pareto"));
    assert_tables_fit(&s);
    s.screenshot("report-ar");
    s.scroll_to("#funnel");
    s.screenshot("report-ar-charts");

    // In English, with every column on the screen and on paper.
    env.patch_config("locale = \"ar\"", "locale = \"en\"");
    let en = env.path().join("report-en.html");
    write_html_report(&env, &en);
    s.goto(&format!("file://{}", en.display()));
    let head = s.text("#groups-money thead");
    for label in ["Revenue", "Cost per lead", "Cost per customer", "ROI", "Customer lifetime value"] {
        assert!(head.contains(label), "{label} in {head}");
    }
    assert_tables_fit(&s);
    // ROI: radio lost all it cost (−100%): its bar ends at the zero line, the others start there.
    let bars = s.run(
        "const zero = +document.querySelector('#roi line.zero').getAttribute('x1');\
         return [...document.querySelectorAll('#roi rect')].map(r => [r.querySelector('title').textContent,\
           +r.getAttribute('x') - zero, +r.getAttribute('x') + +r.getAttribute('width') - zero]);",
        serde_json::json!([]),
    );
    let bars = bars.as_array().unwrap();
    let radio = bars.iter().find(|b| b[0].as_str().unwrap().starts_with("radio")).unwrap();
    assert_eq!(radio[0], "radio: -100.0%");
    assert!(
        radio[1].as_f64().unwrap() < 0.0 && radio[2].as_f64().unwrap().abs() < 0.01,
        "below zero: {bars:?}"
    );
    let zillow = bars.iter().find(|b| b[0].as_str().unwrap().starts_with("zillow")).unwrap();
    assert!(
        zillow[1].as_f64().unwrap().abs() < 0.01 && zillow[2].as_f64().unwrap() > 0.0,
        "above zero: {bars:?}"
    );
    s.screenshot("report-en");
    for (paper, width, height) in [("a4", 21.0, 29.7), ("letter", 21.59, 27.94)] {
        let pdf = s.print_pdf(&format!("report-en-{paper}"), width, height);
        let out = std::process::Command::new("pdftotext")
            .arg(&pdf)
            .arg("-")
            .output()
            .expect("pdftotext (poppler-utils)");
        let text = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        // Every header word, and every cell of the total row (the last column included).
        for word in [
            "Leads",
            "Reached",
            "Sent",
            "Failed",
            "Suppressed",
            "Unsubscribed",
            "Responded",
            "Response",
            "Customers",
            "Conversion",
            "Deals",
            "Revenue",
            "Cost",
            "lead",
            "customer",
            "ROI",
            "lifetime",
            "value",
        ] {
            assert!(text.contains(word), "{paper}: {word} printed: {text}");
        }
        let total: Vec<String> = s
            .run(
                "return [...document.querySelectorAll('#groups tr.total td, #groups-money tr.total td')].map(td => td.textContent);",
                serde_json::json!([]),
            )
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(total.len(), 19, "{total:?}");
        for cell in &total {
            assert!(text.contains(cell.as_str()), "{paper}: the total's {cell:?} printed: {text}");
        }
        let png = pdf.with_extension("");
        let rendered = std::process::Command::new("pdftoppm")
            .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
            .arg(&pdf)
            .arg(&png)
            .status();
        assert!(rendered.is_ok_and(|s| s.success()), "pdftoppm renders the printed page");
    }
}

/// Each table of the report fits the page's width: no column behind a scrollbar.
fn assert_tables_fit(s: &crate::support::browser::Session) {
    let widths = s.run(
        "return [...document.querySelectorAll('table')].map(t => [t.id, t.scrollWidth, document.body.clientWidth]);",
        serde_json::json!([]),
    );
    let widths = widths.as_array().unwrap();
    assert!(widths.len() >= 2, "{widths:?}");
    for w in widths {
        assert!(
            w[1].as_f64().unwrap() <= w[2].as_f64().unwrap(),
            "table {} wider than the page: {widths:?}",
            w[0]
        );
    }
}

#[test]
fn serve_shows_the_report_page_behind_the_preview_login() {
    let env = known_dataset();
    env.patch_config("[delivery]\n", "[server]\npreview_token = \"pv-token-0123456789\"\n\n[delivery]\n");
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let url = format!("{}/report?from=2026-11-20&to=2026-11-30", server.base);
    let anonymous = crate::support::http("GET", &url, &[], "");
    assert_eq!(anonymous.status, 401, "the login, not the numbers");
    assert!(!anonymous.body.contains("zillow") && anonymous.body.contains("id=\"token\""));
    let auth = [("Authorization", "Bearer pv-token-0123456789")];
    let page = crate::support::http("GET", &url, &auth, "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"groups\"") && page.body.contains("zillow") && page.body.contains("$3,500.00"));
    assert!(page.headers.to_ascii_lowercase().contains("cache-control: no-store"));
    let cli = env.path().join("cli.html");
    write_html_report(&env, &cli);
    assert_eq!(std::fs::read_to_string(&cli).unwrap(), page.body, "the same page as report --html");
    let by_agent = crate::support::http("GET", &format!("{url}&by=agent"), &auth, "");
    assert!(
        by_agent.body.contains("sara") && by_agent.body.contains("omar"),
        "{}",
        by_agent.body
    );
    assert_eq!(crate::support::http("GET", &format!("{url}&by=colour"), &auth, "").status, 400);
    server.terminate();
}

/// `report --html FILE` for 2026-11-20 – 2026-11-30.
fn write_html_report(env: &TestEnv, file: &std::path::Path) {
    env.ok(&[
        "report",
        "--from",
        "2026-11-20",
        "--to",
        "2026-11-30",
        "--html",
        file.to_str().unwrap(),
    ]);
}

/// The owner's sections of the known dataset, worked out by hand:
/// - agents: Sara has Ann, Bo and Di (Di suppressed: not reached), Omar has Cy;
/// - weeks of 2026-11-20..30: W47 (20–22) has the four leads, the three sends and both
///   responders (Ann, Cy: 2 of the 3 reached = 66.7 %) and Ann's first deal (1,000); W48 Cy's
///   first deal and Ann's second (2,500); W49 nothing; each beside the 7 days before it;
/// - pipeline on the 30th: Ann and Cy `client` (via `contacted`), Bo `lost` (bought elsewhere,
///   on the 25th), Di `new`;
/// - non-responders (one touch is enough here): Bo, sent one email in 8x8 and never answered.
#[test]
fn the_owners_sections_match_a_dataset_computed_by_hand() {
    let env = known_dataset();
    env.patch_config("[report]\n", "[report]\nnon_responder_touches = 1\n");
    env.ok(&[
        "contact",
        "status",
        "bo@example.com",
        "lost",
        "--reason",
        "bought elsewhere",
        "--date",
        "2026-11-25",
    ]);
    let r = env.json(&["report", "--owner", "--from", "2026-11-20", "--to", "2026-11-30"]);
    let o = &r["owner"];
    let agent = |name: &str| {
        o["agents"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["group"] == name)
            .unwrap()
            .clone()
    };
    let pick = |a: &Value| {
        ["leads", "reached", "responded", "customers"]
            .map(|k| a[k].as_u64().unwrap())
            .to_vec()
    };
    assert_eq!(pick(&agent("sara")), [3, 2, 1, 1]);
    assert_eq!(
        (agent("sara")["response_rate"].as_f64(), agent("sara")["revenue"].as_f64()),
        (Some(50.0), Some(1500.0))
    );
    assert_eq!(pick(&agent("omar")), [1, 1, 1, 1]);
    assert_eq!(agent("omar")["revenue"], 2000.0);
    let weeks = o["trends"]["weeks"].as_array().unwrap();
    let labels: Vec<&str> = weeks.iter().map(|w| w["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["2026-W47", "2026-W48", "2026-W49"]);
    let figures = |w: &Value| {
        ["leads", "reached", "responded", "customers"]
            .map(|k| w[k].as_u64().unwrap())
            .to_vec()
    };
    assert_eq!(figures(&weeks[0]["now"]), [4, 3, 2, 1]);
    assert!((weeks[0]["now"]["rate"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(weeks[0]["now"]["revenue"], 1000.0);
    assert_eq!(figures(&weeks[1]["now"]), [0, 0, 0, 1]);
    assert_eq!(
        (&weeks[1]["now"]["rate"], &weeks[1]["now"]["revenue"]),
        (&Value::Null, &Value::from(2500.0))
    );
    assert_eq!(figures(&weeks[2]["now"]), [0, 0, 0, 0]);
    // The week before each: nothing before the 20th; W48's is 16–22 (all of W47); W49's is the
    // 23rd (Ann's second deal, 500: no new customer).
    assert_eq!(figures(&weeks[0]["before"]), [0, 0, 0, 0]);
    assert_eq!(figures(&weeks[1]["before"]), [4, 3, 2, 1]);
    assert_eq!(weeks[1]["before"]["revenue"], 1000.0);
    assert_eq!(figures(&weeks[2]["before"]), [0, 0, 0, 0]);
    assert_eq!(weeks[2]["before"]["revenue"], 500.0);
    let months = o["trends"]["months"].as_array().unwrap();
    assert_eq!(months.len(), 1);
    assert_eq!(
        (months[0]["label"].as_str(), figures(&months[0]["now"])),
        (Some("2026-11"), vec![4, 3, 2, 2])
    );
    assert_eq!(months[0]["now"]["revenue"], 3500.0);
    assert_eq!(
        (months[0]["from"].as_str(), months[0]["to"].as_str()),
        (Some("2026-11-20"), Some("2026-11-30"))
    );
    assert_eq!(figures(&months[0]["before"]), [0, 0, 0, 0]);
    let st = &o["standing"];
    assert_eq!(st["stages"], serde_json::json!([["new", 1], ["client", 2], ["lost", 1]]));
    assert_eq!(st["moves"], serde_json::json!([["contacted", 2], ["client", 2], ["lost", 1]]));
    assert_eq!(st["lost_reasons"], serde_json::json!([["bought elsewhere", 1]]));
    assert_eq!(
        st["non_responders"],
        serde_json::json!([{ "plan": "8x8", "contacts": 1, "moved_to": {} }])
    );
    // The text says the same.
    let text = env.ok(&["report", "--owner", "--from", "2026-11-20", "--to", "2026-11-30"]);
    assert!(
        text.contains("agents side by side") && text.contains("lost: bought elsewhere: 1"),
        "{text}"
    );
    assert!(text.contains("2026-W47") && text.contains("66.7% (—)"), "{text}");
    // And the page: the rate chart holds rates of those reached (never the 200 % of a day's
    // responses over its sends), the pipeline, the non-responders, the agents, the names.
    let file = env.path().join("owner.html");
    write_html_report(&env, &file);
    let page = std::fs::read_to_string(&file).unwrap();
    for id in ["agents", "weeks", "months", "pipeline", "lost-reasons", "non-responders"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "the page has {id}");
    }
    let chart = &page[page.find("id=\"over-time\"").unwrap()..];
    let chart = &chart[..chart.find("</figure>").unwrap()];
    assert!(
        chart.contains("<title>2026-W47: 66.7%</title>") && !chart.contains("200"),
        "{chart}"
    );
    let pareto = &page[page.find("id=\"pareto\"").unwrap()..];
    assert!(
        pareto.contains(">Cy (A)</text>") && pareto.contains(">Ann (A)</text>"),
        "customers by name: {pareto}"
    );
    let Some(driver) = crate::support::browser::Driver::start() else {
        panic!("chromium and chromedriver are required (Debian: apt-get install chromium chromium-driver)");
    };
    let s = driver.session();
    s.goto(&format!("file://{}", file.display()));
    assert!(s.text("#pipeline").contains("خسارة") || s.text("#pipeline").contains("lost"));
    s.scroll_to("#agents");
    s.screenshot("report-ar-owner");
    env.patch_config("locale = \"ar\"", "locale = \"en\"");
    write_html_report(&env, &file);
    s.goto(&format!("file://{}", file.display()));
    assert!(s.text("#non-responders").contains("8x8"));
    assert!(s.text("#weeks thead").contains("Response rate"));
    s.scroll_to("#agents");
    s.screenshot("report-en-owner");
}
