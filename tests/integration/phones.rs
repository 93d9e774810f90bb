//! Phone numbers against libphonenumber itself: Python's `phonenumbers` (pinned by `.ci/run`)
//! writes numbers of 35 countries the ways people write them and says what each is; nurture
//! imports them and texts them. Every valid number is stored and texted as libphonenumber's
//! E.164, every other one is refused with its line — never stored changed.

use crate::NOW;
use crate::support::TestEnv;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One case: what was written, the default region it is read under, libphonenumber's E.164.
type Case = (String, String, Option<String>);

/// The cases of `support/phones.py`.
fn cases() -> Vec<Case> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/support/phones.py");
    let out = std::process::Command::new("python3").arg(script).output().unwrap();
    assert!(out.status.success(), "phones.py: {}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    v.iter()
        .map(|c| {
            (
                c["raw"].as_str().unwrap().to_string(),
                c["region"].as_str().unwrap().to_string(),
                c["e164"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn phone_numbers_agree_with_libphonenumber_and_texts_reach_exactly_them() {
    let cases = cases();
    let valid: BTreeSet<String> = cases.iter().filter_map(|c| c.2.clone()).collect();
    assert!(
        cases.len() >= 300 && valid.len() >= 100,
        "{} cases, {} numbers",
        cases.len(),
        valid.len()
    );
    let env = TestEnv::new("phones");
    env.write_config("");
    let mut by_region: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for c in &cases {
        by_region.entry(c.1.as_str()).or_default().push(c);
    }
    for (region, rows) in &by_region {
        let mut csv = String::from("first_name,phone,plan,sms_consent\n");
        for (i, (raw, _, _)) in rows.iter().enumerate() {
            csv.push_str(&format!("P{i},\"{raw}\",8x8,2026-10-01\n"));
        }
        env.write("phones.csv", &csv);
        let out = env
            .command(&["import", "phones.csv", "--json", "--enrolled-on", "2026-11-03"])
            .env("NURTURE_CONTACTS_DEFAULT_REGION", region)
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("import: {}", String::from_utf8_lossy(&out.stderr)));
        let refused: BTreeMap<u64, String> = r["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                assert_eq!(x["column"], "phone", "{x}");
                (x["line"].as_u64().unwrap(), x["reason"].as_str().unwrap().to_string())
            })
            .collect();
        for (i, (raw, _, want)) in rows.iter().enumerate() {
            let line = i as u64 + 2;
            match want {
                Some(e164) => assert!(
                    !refused.contains_key(&line),
                    "{region}: {raw:?} ({e164}) refused: {:?}",
                    refused.get(&line)
                ),
                None => assert!(refused.contains_key(&line), "{region}: {raw:?} is not valid, yet accepted"),
            }
        }
    }
    let export = env.ok(&["export"]);
    let mut reader = csv::Reader::from_reader(export.as_bytes());
    let phone_at = reader.headers().unwrap().iter().position(|h| h == "phone").unwrap();
    let stored: BTreeSet<String> = reader.records().map(|r| r.unwrap()[phone_at].to_string()).collect();
    assert_eq!(
        stored.difference(&valid).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "stored numbers libphonenumber does not give"
    );
    assert_eq!(stored, valid);

    // Each stored number's w3-checkin text goes out, to exactly those numbers, once.
    env.ok(&["run", "--now", NOW]);
    let mut texted: BTreeMap<String, usize> = BTreeMap::new();
    for r in env.twilio().requests().into_iter().filter(|r| r["status"] == 201) {
        *texted.entry(r["form"]["To"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(texted.keys().cloned().collect::<BTreeSet<_>>(), valid);
    assert!(texted.values().all(|n| *n == 1), "{texted:?}");
}
