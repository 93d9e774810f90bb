//! The files people really have: workbooks (xlsx made here with rust_xlsxwriter, a LibreOffice
//! ods fixture), CSV from Arabic and European Excel, Excel's "Unicode text", headers as tools
//! and people write them, and problems reported so a person can act on them.

use crate::DATE;
use crate::support::TestEnv;
use serde_json::Value;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/import/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `import FILE --json` and its exit code.
fn import(env: &TestEnv, file: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["import", file, "--json", "--enrolled-on", DATE];
    args.extend_from_slice(extra);
    let out = env.nurture(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), v, stderr)
}

fn contact(env: &TestEnv, who: &str) -> Value {
    env.json(&["contact", "show", who])["contact"].clone()
}

#[test]
fn workbooks_import_with_date_cells_long_numbers_and_formula_values() {
    let env = TestEnv::new("xlsx");
    let path = env.path().join("contacts.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet()
        .set_name("Notes")
        .unwrap()
        .write_string(0, 0, "not contacts")
        .unwrap();
    let sheet = book.add_worksheet().set_name("Leads").unwrap();
    let date = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    for (col, h) in ["Given Name", "Surname", "E-mail", "Mobile Phone", "Birth Date", "Greeting"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, col as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "Ann").unwrap();
    sheet.write_string(1, 1, "Lee").unwrap();
    sheet.write_string(1, 2, "Ann@Example.com").unwrap();
    sheet.write_number(1, 3, 12175550100.0).unwrap();
    let born = rust_xlsxwriter::ExcelDateTime::from_ymd(1985, 5, 17).unwrap();
    sheet.write_datetime_with_format(1, 4, &born, &date).unwrap();
    sheet
        .write_formula(1, 5, rust_xlsxwriter::Formula::new("=\"Dear \"&A2").set_result("Dear Ann"))
        .unwrap();
    sheet.write_string(2, 0, "Bad").unwrap();
    sheet.write_string(2, 2, "bad@").unwrap();
    sheet.write_string(2, 4, "17/05/1985").unwrap();
    book.save(&path).unwrap();

    let (code, _, stderr) = import(&env, "contacts.xlsx", &[]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("no email or a phone") || stderr.contains("email or a phone"),
        "{stderr}"
    );
    let (code, r, stderr) = import(&env, "contacts.xlsx", &["--sheet", "Leads"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(r["created"], 1, "{r}");
    assert_eq!(r["read_as"], "sheet \"Leads\" of 2 (--sheet to choose)", "{r}");
    let ann = contact(&env, "ann@example.com");
    assert_eq!(ann["fields"]["phone"], "+12175550100", "{ann}");
    assert_eq!(ann["fields"]["birthday"], "1985-05-17", "{ann}");
    assert_eq!(ann["fields"]["greeting"], "Dear Ann", "the formula's value: {ann}");
    assert_eq!(ann["fields"]["last_name"], "Lee", "{ann}");
    // Row 3 of the sheet: its bad email, by sheet and row (its day-first date is read).
    let problems: Vec<(String, u64, String, String)> = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["file"].as_str().unwrap().to_string(),
                p["line"].as_u64().unwrap(),
                p["column"].as_str().unwrap().to_string(),
                p["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems.iter().all(|(f, l, _, _)| f == "contacts.xlsx[Leads]" && *l == 3),
        "{problems:?}"
    );
    assert_eq!(problems[0].2, "email");

    // LibreOffice's .ods: a float phone keeps its digits, a date cell is a date.
    let (_, r, stderr) = import(&env, &fixture("contacts.ods"), &[]);
    assert_eq!(r["created"], 1, "{r} {stderr}");
    assert_eq!(r["rejected"][0]["line"], 3, "{r}");
    let olga = contact(&env, "olga@example.com");
    assert_eq!(olga["fields"]["phone"], "+12175550177", "{olga}");
    assert_eq!(olga["fields"]["birthday"], "1979-03-08", "{olga}");
}

#[test]
fn text_files_in_the_encodings_and_separators_excel_writes() {
    let env = TestEnv::new("encodings");
    // Arabic Excel's "CSV": Windows-1256, detected; Arabic headers and names intact.
    let (code, r, stderr) = import(&env, &fixture("arabic-windows-1256.csv"), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(r["created"], 3, "{r}");
    assert!(r["read_as"].as_str().unwrap().starts_with("windows-1256 (detected"), "{r}");
    let sara = contact(&env, "sara@example.com");
    assert_eq!(sara["fields"]["first_name"], "سارة", "{sara}");
    assert_eq!(sara["fields"]["last_name"], "العلي", "{sara}");
    // Forced to UTF-8, it is refused whole, naming the likely encoding and the flag.
    let env2 = TestEnv::new("encodings2");
    let (code, r, stderr) = import(&env2, &fixture("arabic-windows-1256.csv"), &["--encoding", "utf-8"]);
    assert_eq!(code, Some(1), "{r}");
    assert!(
        stderr.contains("line 1: the file is not valid UTF-8")
            && stderr.contains("windows-1256")
            && stderr.contains("--encoding windows-1256"),
        "{stderr}"
    );
    assert_eq!(env2.json(&["status"])["contacts"], 0, "nothing imported");
    // Excel's "Unicode text": UTF-16 LE with BOM, tab-separated.
    let (code, r, stderr) = import(&env, &fixture("unicode-text-utf16le.txt"), &[]);
    assert_eq!((code, r["created"].as_u64()), (Some(0), Some(2)), "{r} {stderr}");
    assert_eq!(contact(&env, "zoe@example.com")["fields"]["first_name"], "Zoë");
    assert_eq!(contact(&env, "layla@example.com")["fields"]["first_name"], "ليلى");
    // European Excel: semicolons, Windows-1252, CRLF, a cell over two lines. The bad row is
    // reported at its own line (4), not the line the parser counted.
    let (code, r, stderr) = import(&env, &fixture("european-semicolon-1252.csv"), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(r["created"], 2, "{r}");
    assert_eq!(r["rejected"][0]["line"], 4, "{r}");
    assert_eq!(r["rejected"][0]["column"], "email", "{r}");
    assert_eq!(contact(&env, "renee@example.com")["fields"]["first_name"], "Renée");
    assert!(r["read_as"].as_str().unwrap().contains("semicolon-separated"), "{r}");
}

#[test]
fn headers_as_people_write_them_and_problems_a_person_can_act_on() {
    let env = TestEnv::new("headers");
    env.write(
        "outlook.csv",
        "First Name,Last Name,E-mail Address,Mobile Phone,Work Mail,Plan,Birthday\r\n\
         Ann,Lee,ann@example.com,(217) 555-0100,ann.lee@work.example.com,8x8,05-17\r\n\
         Bo,,bo@example.com,,bo@work.example.com,8X9,17/05/1985\r\n\
         Cy,,cy@example.com,,cy@work.example.com,8x8,\r\n\
         Ann,Lee-Smith,ANN@example.com,,ann.lee@work.example.com,8x8,\r\n",
    );
    let (code, r, stderr) = import(&env, "outlook.csv", &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(r["columns"]["E-mail Address"], "email", "{r}");
    assert_eq!(r["columns"]["Mobile Phone"], "phone", "{r}");
    assert_eq!(r["columns"]["First Name"], "first_name", "{r}");
    assert_eq!(r["columns"]["Work Mail"], "work_mail", "{r}");
    assert!(r["warnings"][0].as_str().unwrap().contains("\"Work Mail\""), "{r}");
    // Bo's row: the plan decides what he gets — refused, with what to do (his 17/05/1985 is
    // read: only a day can be 17).
    let bo: Vec<&Value> = r["rejected"].as_array().unwrap().iter().filter(|p| p["line"] == 3).collect();
    assert_eq!(bo.len(), 1, "{r}");
    assert!(bo[0]["reason"].as_str().unwrap().contains("did you mean \"8x8\""), "{r}");
    // Ann twice: merged, reported by line, the later values win.
    assert_eq!(r["duplicates"], 1, "{r}");
    assert_eq!(r["created"], 2, "{r}");
    assert_eq!(contact(&env, "ann@example.com")["fields"]["last_name"], "Lee-Smith");
    let (_, _, stderr) = {
        let out = env.nurture(&["import", "outlook.csv", "--enrolled-on", DATE]);
        (out.status.code(), (), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert!(stderr.contains("outlook.csv:5: note: repeats line 2"), "{stderr}");
    assert!(stderr.contains("columns: First Name → first_name"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI codes when stderr is not a terminal: {stderr}");
    // --map makes any column the email.
    env.write("other.csv", "Name;Mail Adresse\nDee;dee@example.com\n");
    let (code, _, stderr) = import(&env, "other.csv", &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("found: \"Name\", \"Mail Adresse\""), "{stderr}");
    let (code, r, stderr) = import(&env, "other.csv", &["--map", "Mail Adresse=email"]);
    assert_eq!((code, r["created"].as_u64()), (Some(0), Some(1)), "{stderr}");
    // A header-only file says so.
    env.write("empty.csv", "email,first_name\r\n");
    let (code, r, stderr) = import(&env, "empty.csv", &[]);
    assert_eq!((code, r["created"].as_u64()), (Some(0), Some(0)), "{stderr}");
    assert!(r["warnings"][0].as_str().unwrap().contains("no contact rows"), "{r}");
    let out = env.nurture(&["import", "empty.csv"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty.csv: warning: the header row is there, but no contact rows"));
}

/// The cells of a workbook's first sheet, as text.
fn read_xlsx(path: &std::path::Path) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(path).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

#[test]
fn exports_go_back_to_the_spreadsheet_with_address_parts_and_no_formulas() {
    let env = TestEnv::new("exportxlsx");
    env.import(
        "first_name,last_name,email,phone,street,city,state,zip,country,plan\n\
         =HYPERLINK(\"http://evil.example\"),Lee,ann@example.com,+12175550100,12 Oak St,Springfield,IL,62701,US,33-touch\n\
         سارة,العلي,sara@example.com,,شارع النخيل 4,الرياض,,12345,SA,33-touch\n",
        &["--enrolled-on", "2026-01-06"],
    );
    env.ok(&["export", "--format", "xlsx", "--out", "contacts.xlsx"]);
    let rows = read_xlsx(&env.path().join("contacts.xlsx"));
    let head = &rows[0];
    let col = |name: &str| head.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {head:?}"));
    assert!(col("street") < col("city") && col("city") < col("postal_code") && col("postal_code") < col("country"));
    let ann = rows.iter().find(|r| r[col("email")] == "ann@example.com").unwrap();
    assert_eq!(
        ann[col("first_name")],
        "=HYPERLINK(\"http://evil.example\")",
        "a text cell, not a formula"
    );
    assert_eq!(
        (ann[col("phone")].as_str(), ann[col("postal_code")].as_str()),
        ("+12175550100", "62701")
    );
    // A formula cell would show its (empty) value here instead of the text.
    let sara = rows.iter().find(|r| r[col("email")] == "sara@example.com").unwrap();
    assert_eq!(sara[col("street")], "شارع النخيل 4");
    // CSV for Excel: a byte order mark, the formula neutralized.
    env.ok(&["export", "--bom", "--out", "contacts.csv"]);
    let bytes = std::fs::read(env.path().join("contacts.csv")).unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()));
    assert!(String::from_utf8_lossy(&bytes).contains("'=HYPERLINK"));
    assert!(
        !env.nurture(&["export", "--format", "xlsx"]).status.success(),
        "a workbook needs --out"
    );
    // The agenda as a workbook for mail-merge labels: the address in its parts.
    env.ok(&["run", "--date", "2026-01-26", "--now", "2026-01-26T18:00:00Z", "--enqueue-only"]);
    env.ok(&["agenda", "--date", "2026-01-26", "--format", "xlsx", "--out", "agenda.xlsx"]);
    let agenda = read_xlsx(&env.path().join("agenda.xlsx"));
    let head = &agenda[0];
    for c in ["street", "city", "state", "postal_code", "country"] {
        assert!(head.contains(&c.to_string()), "{head:?}");
    }
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let card = agenda
        .iter()
        .find(|r| r[col("email")] == "ann@example.com")
        .expect("a card for Ann");
    assert_eq!(
        (
            card[col("street")].as_str(),
            card[col("city")].as_str(),
            card[col("state")].as_str()
        ),
        ("12 Oak St", "Springfield", "IL")
    );
}

#[test]
fn no_redis_is_one_line_naming_the_url_and_what_to_do() {
    let env = TestEnv::new("noredis");
    let port = crate::support::free_port_pub();
    env.patch_config(&crate::support::redis_url(), &format!("redis://user:s3cret@127.0.0.1:{port}/0"));
    let out = env.nurture(&["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach Redis at redis://user:***@127.0.0.1:{port}/0"))
            && stderr.contains("demo/run.sh")
            && !stderr.contains("s3cret"),
        "{stderr}"
    );
}

#[test]
fn the_demo_workbook_holds_the_demo_contacts() {
    let sheet = read_xlsx(std::path::Path::new(&format!("{}/demo/contacts.xlsx", env!("CARGO_MANIFEST_DIR"))));
    let text = std::fs::read_to_string(format!("{}/demo/contacts.csv", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let csv: Vec<Vec<String>> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(sheet.len(), csv.len() + 1);
    for (s, c) in sheet[1..].iter().zip(&csv) {
        assert_eq!(s[..c.len()], c[..], "the workbook and the CSV differ");
    }
    let env = TestEnv::new("demoxlsx");
    let (code, r, stderr) = import(&env, &format!("{}/demo/contacts.xlsx", env!("CARGO_MANIFEST_DIR")), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(r["created"].as_u64(), Some(csv.len() as u64), "{r}");
}

#[test]
fn output_piped_into_a_reader_that_stops_early_ends_quietly() {
    // `nurture export | head -1`: head closes the pipe after one line; nurture must not panic.
    let env = TestEnv::new("pipe");
    let mut csv = String::from("email,first_name,plan\n");
    for i in 0..3000 {
        csv.push_str(&format!("p{i}@example.com,Pat{i},8x8\n"));
    }
    env.import(&csv, &["--enrolled-on", DATE]);
    let opted_out: String = (0..3000).map(|i| format!("gone{i}@example.com\n")).collect();
    env.write("opted-out.txt", &opted_out);
    env.ok(&["suppress", "import", "opted-out.txt"]);
    for args in [&["export"][..], &["suppress", "list"][..], &["agenda", "--date", DATE][..]] {
        let mut child = env
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::BufRead;
            let mut first = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        } // the reader goes away
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

/// An Outlook (en-US) contacts export as Outlook writes it: `0/0/00` in every empty date, US
/// dates, a local number without its country code beside a good email.
#[test]
fn an_outlook_export_imports_whole() {
    let env = TestEnv::new("outlook");
    let csv = "First Name,Last Name,E-mail Address,Mobile Phone,Birthday,Anniversary,Business City\n\
               Ann,Lee,ann@example.com,(217) 555-0101,5/17/1985,0/0/00,Springfield\n\
               Bo,Diaz,bo@example.com,,0/0/00,6/20/2010,\n\
               Cy,Ng,cy@example.com,0551234567,12/31/1979,0/0/00,\n\
               Di,Roe,di@example.com,+44 20 7946 0958,2/30/1990,,London\n";
    env.write("outlook.csv", csv);
    let out = env.nurture(&["import", "outlook.csv", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((r["created"].as_u64(), r["rejected_rows"].as_u64()), (Some(4), Some(0)), "{r}");
    let warned = r["cell_warnings"].to_string();
    assert!(
        warned.contains("outlook.csv:4: warning: column phone"),
        "the local number is left out, Cy imported: {warned}"
    );
    assert!(
        warned.contains("outlook.csv:5: warning: column birthday") && warned.contains("has no day 30"),
        "{warned}"
    );
    let exported = env.ok(&["export"]);
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |row: &csv::StringRecord, name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .map(|i| row[i].to_string())
            .unwrap_or_default()
    };
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let by = |email: &str| rows.iter().find(|r| col(r, "email") == email).unwrap().clone();
    let ann = by("ann@example.com");
    assert_eq!(
        (col(&ann, "phone"), col(&ann, "birthday"), col(&ann, "anniversary")),
        ("+12175550101".into(), "1985-05-17".into(), String::new())
    );
    assert_eq!(col(&ann, "city"), "Springfield");
    assert_eq!(col(&by("bo@example.com"), "anniversary"), "2010-06-20");
    assert_eq!(
        (col(&by("cy@example.com"), "phone"), col(&by("cy@example.com"), "birthday")),
        (String::new(), "1979-12-31".into())
    );
    assert_eq!(col(&by("di@example.com"), "phone"), "+442079460958");
}

/// A sheet saved with a title and a blank line above its header, as people dress them up.
#[test]
fn the_header_is_found_below_title_rows() {
    let env = TestEnv::new("titlerows");
    env.write(
        "clients.csv",
        "Client list — March 2026,,\nPrepared by Sara,,\n,,\nName,E-mail,Phone\nAnn Lee,ann@example.com,+12175550131\nBo Diaz,bo@example.com,\n",
    );
    let (code, r, stderr) = import(&env, "clients.csv", &[]);
    assert_eq!(code, Some(0), "{r} {stderr}");
    assert_eq!((r["created"].as_u64(), r["rejected_rows"].as_u64()), (Some(2), Some(0)), "{r}");
    assert_eq!(r["columns"]["E-mail"], "email", "{r}");
    assert_eq!(contact(&env, "ann@example.com")["fields"]["phone"], "+12175550131");
    // Named by hand: the row's problems carry the file's own line numbers.
    env.write("named.csv", "Our people,\nemail,birthday\ncy@example.com,2/30/1990\n");
    let (code, r, _) = import(&env, "named.csv", &["--header-row", "2"]);
    assert_eq!(code, Some(0), "{r}");
    assert!(
        r["cell_warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("named.csv:3: warning: column birthday"),
        "{r}"
    );
    let (code, _, stderr) = import(&env, "named.csv", &["--header-row", "9"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("--header-row 9"), "{stderr}");
}

/// A Google Contacts export: its own headers, several values in one cell, year-less birthdays.
#[test]
fn a_google_contacts_export_imports_whole() {
    let env = TestEnv::new("google");
    env.write(
        "google.csv",
        "Given Name,Family Name,Birthday,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Address 1 - City,Address 1 - Region,Address 1 - Country\n\
         Ann,Lee,--05-17,* Home,ann@example.com ::: ann@work.example.com,Mobile,+1 217 555 0141 ::: +1 217 555 0142,Springfield,IL,US\n\
         Bo,Diaz,1980-02-29,* Work,bo@example.com,,,,,\n",
    );
    let (code, r, stderr) = import(&env, "google.csv", &[]);
    assert_eq!(code, Some(0), "{r} {stderr}");
    assert_eq!(r["created"], 2, "{r}");
    let warned = r["cell_warnings"].to_string();
    assert!(warned.contains("google.csv:2: warning: column email: several values"), "{warned}");
    let ann = contact(&env, "ann@example.com");
    let f = &ann["fields"];
    assert_eq!(
        (
            f["phone"].as_str(),
            f["birthday"].as_str(),
            f["city"].as_str(),
            f["state"].as_str(),
            f["country"].as_str()
        ),
        (Some("+12175550141"), Some("05-17"), Some("Springfield"), Some("IL"), Some("US")),
        "{ann}"
    );
    assert_eq!(contact(&env, "bo@example.com")["fields"]["birthday"], "1980-02-29");
}

/// A German Excel "CSV": semicolons, German headers, day-first dates, national phone numbers.
#[test]
fn a_european_csv_imports_whole() {
    let env = TestEnv::new("european");
    env.write(
        "kunden.csv",
        "Vorname;Nachname;E-Mail;Handy;Geburtstag;Stadt\n\
         Jonas;Weber;jonas@example.de;0176 12345678;17.05.1985;Berlin\n\
         Lena;Koch;lena@example.de;+49 30 1234567;03.04.1990;Hamburg\n",
    );
    let out = env
        .command(&["import", "kunden.csv", "--json"])
        .env("NURTURE_CONTACTS_DEFAULT_REGION", "DE")
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((r["created"].as_u64(), r["rejected_rows"].as_u64()), (Some(2), Some(0)), "{r}");
    assert!(r["read_as"].as_str().unwrap().contains("semicolon"), "{r}");
    let exported = env.ok(&["export"]);
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<Vec<(String, String)>> = reader
        .records()
        .map(|r| {
            headers
                .iter()
                .map(str::to_string)
                .zip(r.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect();
    let field = |email: &str, name: &str| {
        let row = rows.iter().find(|r| r.iter().any(|(k, v)| k == "email" && v == email)).unwrap();
        row.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    assert_eq!(
        (
            field("jonas@example.de", "phone"),
            field("jonas@example.de", "birthday"),
            field("jonas@example.de", "city")
        ),
        ("+4917612345678".into(), "1985-05-17".into(), "Berlin".into())
    );
    assert_eq!(
        (field("lena@example.de", "phone"), field("lena@example.de", "birthday")),
        ("+49301234567".into(), "1990-04-03".into())
    );
}

/// The first day as people have it: one export of each kind, imported one after another into
/// one database, and every person checked in what `export` gives back.
#[test]
fn every_kind_of_export_arrives_whole() {
    let env = TestEnv::new("everyexport");
    for (file, region) in [
        ("excel-en-us.xlsx", "US"),
        ("excel-title-rows.xlsx", "US"),
        ("outlook-en-us.csv", "US"),
        ("google-contacts.csv", "US"),
        ("german-excel-1252.csv", "DE"),
        ("arabic-excel-1256.csv", "SA"),
        ("arabic-digits.ods", "SA"),
    ] {
        let out = env
            .command(&["import", &fixture(file), "--json", "--enrolled-on", DATE])
            .env("NURTURE_CONTACTS_DEFAULT_REGION", region)
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(out.status.code(), Some(0), "{file}: {r} {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(r["rejected_rows"], 0, "{file}: {r}");
    }
    let exported = env.ok(&["export"]);
    let mut reader = csv::Reader::from_reader(exported.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4 + 2 + 3 + 3 + 3 + 3 + 2, "{exported}");
    let get = |who: &str, names: &[&str]| -> Vec<String> {
        let at = |name: &str| headers.iter().position(|h| h == name);
        let row = rows
            .iter()
            .find(|r| at("email").is_some_and(|i| &r[i] == who) || at("phone").is_some_and(|i| &r[i] == who))
            .unwrap_or_else(|| panic!("{who} not exported"));
        names
            .iter()
            .map(|n| at(n).map(|i| row[i].to_string()).unwrap_or_default())
            .collect()
    };
    let consent = |who: &str| get(who, &["sms_consent"]).remove(0);
    let person = ["phone", "birthday", "anniversary", "enrolled_on"];
    for (who, want) in [
        ("ann.lee@example.com", ["+12175550101", "1985-05-17", "", "2026-06-01"]),
        ("ben.ortiz@example.com", ["+12175550102", "1979-12-31", "", "2026-06-02"]),
        ("cara.diaz@example.com", ["+12175550103", "1985-05-06", "", "2026-06-13"]),
        // A planned row without its own enrollment day: --enrolled-on.
        ("+12175550104", ["+12175550104", "", "", DATE]),
        ("eve.stone@example.com", ["+12175550105", "", "2010-06-20", ""]),
        ("finn.hale@example.com", ["", "", "", ""]),
        ("gina.park@example.com", ["+12175550107", "1985-05-17", "", ""]),
        ("hal.moss@example.com", ["+12175550108", "", "2010-06-20", ""]),
        ("ivy.chen@example.com", ["", "1979-12-31", "", ""]),
        ("jo.kim@example.com", ["+12175550110", "05-17", "", ""]),
        ("kai.ruiz@example.com", ["+12175550111", "1980-02-29", "", ""]),
        ("+442079460958", ["+442079460958", "", "", ""]),
        ("joerg@example.de", ["+4917612345678", "1985-05-17", "", ""]),
        ("lena@example.de", ["+49301234567", "1990-04-03", "", ""]),
        ("mia@example.de", ["", "1988-12-25", "", ""]),
        ("sara.ali@example.com", ["+966501234567", "1985-05-17", "", ""]),
        ("ahmed.harbi@example.com", ["+966507654321", "", "", ""]),
        ("khalid@example.com", ["", "1990-06-05", "", ""]),
        ("noura@example.com", ["+966501234568", "1985-05-17", "", "2026-06-01"]),
        ("omar@example.com", ["+966501112233", "1979-03-08", "", "2026-06-02"]),
    ] {
        assert_eq!(get(who, &person), want, "{who}");
    }
    for (who, file) in [
        ("ann.lee@example.com", "excel-en-us.xlsx"),
        ("ben.ortiz@example.com", "excel-en-us.xlsx"),
        ("+12175550104", "excel-en-us.xlsx"),
        ("sara.ali@example.com", "arabic-excel-1256.csv"),
        ("noura@example.com", "arabic-digits.ods"),
    ] {
        assert!(consent(who).ends_with(&format!(" import {file}")), "{who}: {:?}", consent(who));
    }
    for who in [
        "cara.diaz@example.com",
        "ahmed.harbi@example.com",
        "omar@example.com",
        "gina.park@example.com",
    ] {
        assert_eq!(consent(who), "", "{who}");
    }
    assert_eq!(
        get("hal.moss@example.com", &["street", "city", "postal_code"]),
        ["500 Main St\nSuite 2", "Peoria", "61602"]
    );
    assert_eq!(get("gina.park@example.com", &["street", "city"]), ["12 Elm St", "Springfield"]);
    assert_eq!(
        get("joerg@example.de", &["first_name", "last_name", "city"]),
        ["Jörg", "Weiß", "München"]
    );
    assert_eq!(get("sara.ali@example.com", &["first_name"]), ["سارة"]);
}
