//! Unit tests of import on the real-shaped exports in `tests/fixtures/import/` (made by its
//! `make.py` or written as the tool writes them): one test per format, each checking every
//! person's address, phone, dates and consent, and each cell left out.

use super::Contact;
use super::dates::DayOrder;
use super::import::{ImportOptions, Rows};
use super::read::ReadOptions;
use std::collections::BTreeMap;

const GIVEN: &str = "2026-12-07 import the file";

fn opts(region: &str) -> ImportOptions {
    ImportOptions {
        plan: None,
        source: None,
        enrolled_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        default_region: region.into(),
        plans: ["8x8".to_string()].into_iter().collect(),
        read: ReadOptions::default(),
        map: Vec::new(),
        stages: crate::config::PipelineConfig::default().stages,
        consent_given: GIVEN.into(),
        day_order: DayOrder::Auto,
        column_orders: BTreeMap::new(),
    }
}

/// What importing a fixture gives: contacts by id, rejected `(line, column)`, and the
/// warnings (the file's, then each cell left out).
struct Imported {
    contacts: BTreeMap<String, Contact>,
    rejected: Vec<(u64, String)>,
    warnings: Vec<String>,
}

fn import(name: &str, region: &str) -> Imported {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name);
    let rows = Rows::open(&path, &opts(region)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut warnings = rows.warnings();
    let (mut contacts, mut rejected) = (BTreeMap::new(), Vec::new());
    let (mut rx, reader) = rows.read_ahead(100);
    while let Some(chunk) = rx.blocking_recv() {
        for (_, c) in chunk.rows {
            contacts.insert(c.id.0.clone(), c);
        }
        for problems in chunk.rejected {
            rejected.extend(problems.into_iter().map(|r| (r.line, r.column)));
        }
        warnings.extend(chunk.warnings);
    }
    drop(reader);
    Imported {
        contacts,
        rejected,
        warnings,
    }
}

/// `(field, value)` pairs of a contact, for the fields named.
fn fields<'a>(c: &'a Imported, id: &str, names: &[&str]) -> Vec<Option<&'a str>> {
    let contact = c
        .contacts
        .get(id)
        .unwrap_or_else(|| panic!("{id} not imported: {:?}", c.contacts.keys()));
    names.iter().map(|n| contact.get(n)).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

/// Runs `f` where `read_ahead` can spawn its reader.
fn within_runtime<T>(f: impl FnOnce() -> T) -> T {
    let rt = runtime();
    let _guard = rt.enter();
    f()
}

const PERSON: [&str; 5] = ["email", "phone", "birthday", "enrolled_on", "sms_consent"];

#[test]
fn excel_en_us_with_date_cells_date_times_and_phones_as_numbers() {
    let got = within_runtime(|| import("excel-en-us.xlsx", "US"));
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    assert_eq!(got.contacts.len(), 4);
    assert_eq!(
        fields(&got, "ann.lee@example.com", &PERSON),
        [
            Some("ann.lee@example.com"),
            Some("+12175550101"),
            Some("1985-05-17"),
            Some("2026-06-01"),
            Some(GIVEN)
        ]
    );
    // A text birthday beside a US one (12/31) is month first; TRUE is a yes.
    assert_eq!(
        fields(&got, "ben.ortiz@example.com", &PERSON),
        [
            Some("ben.ortiz@example.com"),
            Some("+12175550102"),
            Some("1979-12-31"),
            Some("2026-06-02"),
            Some(GIVEN)
        ]
    );
    assert_eq!(
        fields(&got, "cara.diaz@example.com", &PERSON),
        [
            Some("cara.diaz@example.com"),
            Some("+12175550103"),
            Some("1985-05-06"),
            Some("2026-06-13"),
            None
        ]
    );
    assert_eq!(
        fields(&got, "+12175550104", &["email", "phone", "sms_consent"]),
        [None, Some("+12175550104"), Some(GIVEN)]
    );
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn excel_with_title_rows_above_its_header() {
    let got = within_runtime(|| import("excel-title-rows.xlsx", "US"));
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    assert_eq!(
        fields(
            &got,
            "eve.stone@example.com",
            &["phone", "anniversary", "home_purchase", "first_name"]
        ),
        [Some("+12175550105"), Some("2010-06-20"), Some("2021-09-30"), Some("Eve")]
    );
    assert_eq!(fields(&got, "finn.hale@example.com", &["phone", "anniversary"]), [None, None]);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn outlook_en_us_with_every_address_and_phone_column() {
    let got = within_runtime(|| import("outlook-en-us.csv", "US"));
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    let address = ["phone", "street", "city", "state", "postal_code", "birthday", "anniversary"];
    // The home address and the mobile phone first…
    assert_eq!(
        fields(&got, "gina.park@example.com", &address),
        [
            Some("+12175550107"),
            Some("12 Elm St"),
            Some("Springfield"),
            Some("IL"),
            Some("62701"),
            Some("1985-05-17"),
            None
        ]
    );
    // …else the home phone and the business address, whole.
    assert_eq!(
        fields(&got, "hal.moss@example.com", &address),
        [
            Some("+12175550108"),
            Some("500 Main St\nSuite 2"),
            Some("Peoria"),
            Some("IL"),
            Some("61602"),
            None,
            Some("2010-06-20")
        ]
    );
    // A local number without its country: left out with a warning at its line, Ivy imported.
    assert_eq!(
        fields(&got, "ivy.chen@example.com", &["phone", "birthday"]),
        [None, Some("1979-12-31")]
    );
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert!(
        got.warnings[0].contains("outlook-en-us.csv:6: warning: column phone"),
        "a quoted two-line cell above moves Ivy to line 6: {:?}",
        got.warnings
    );
}

#[test]
fn google_contacts_with_several_values_and_year_less_birthdays() {
    let got = within_runtime(|| import("google-contacts.csv", "US"));
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    assert_eq!(
        fields(
            &got,
            "jo.kim@example.com",
            &["phone", "birthday", "street", "city", "postal_code", "country"]
        ),
        [
            Some("+12175550110"),
            Some("05-17"),
            Some("4 Oak Ave"),
            Some("Springfield"),
            Some("62704"),
            Some("US")
        ]
    );
    assert_eq!(
        fields(&got, "kai.ruiz@example.com", &["phone", "birthday"]),
        [Some("+12175550111"), Some("1980-02-29")]
    );
    assert_eq!(
        fields(&got, "+442079460958", &["email", "city", "country"]),
        [None, Some("London"), Some("GB")]
    );
    assert!(
        got.warnings
            .iter()
            .any(|w| w.contains("google-contacts.csv:2: warning: column email: several values")),
        "{:?}",
        got.warnings
    );
}

#[test]
fn german_excel_csv_in_windows_1252_with_semicolons() {
    let got = within_runtime(|| import("german-excel-1252.csv", "DE"));
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    assert_eq!(
        fields(&got, "joerg@example.de", &["first_name", "last_name", "phone", "birthday", "city"]),
        [
            Some("Jörg"),
            Some("Weiß"),
            Some("+4917612345678"),
            Some("1985-05-17"),
            Some("München")
        ]
    );
    // 03/04/1990 is read day first: 25/12/1988 in the same column can only be.
    assert_eq!(
        fields(&got, "lena@example.de", &["phone", "birthday"]),
        [Some("+49301234567"), Some("1990-04-03")]
    );
    assert_eq!(
        fields(&got, "mia@example.de", &["birthday", "city"]),
        [Some("1988-12-25"), Some("Düsseldorf")]
    );
}

#[test]
fn arabic_excel_csv_in_windows_1256() {
    let got = within_runtime(|| import("arabic-excel-1256.csv", "SA"));
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    assert_eq!(
        fields(
            &got,
            "sara.ali@example.com",
            &["first_name", "last_name", "phone", "birthday", "sms_consent"]
        ),
        [Some("سارة"), Some("العلي"), Some("+966501234567"), Some("1985-05-17"), Some(GIVEN)]
    );
    assert_eq!(
        fields(&got, "ahmed.harbi@example.com", &["phone", "birthday", "sms_consent"]),
        [Some("+966507654321"), None, None]
    );
    assert_eq!(fields(&got, "khalid@example.com", &["birthday"]), [Some("1990-06-05")]);
}

#[test]
fn libreoffice_ods_with_date_times_and_arabic_indic_digits() {
    let got = within_runtime(|| import("arabic-digits.ods", "SA"));
    assert!(got.rejected.is_empty(), "{:?}", got.rejected);
    assert_eq!(
        fields(
            &got,
            "noura@example.com",
            &["first_name", "phone", "birthday", "enrolled_on", "sms_consent"]
        ),
        [
            Some("نورة"),
            Some("+966501234568"),
            Some("1985-05-17"),
            Some("2026-06-01"),
            Some(GIVEN)
        ]
    );
    assert_eq!(
        fields(&got, "omar@example.com", &["phone", "birthday", "enrolled_on", "sms_consent"]),
        [Some("+966501112233"), Some("1979-03-08"), Some("2026-06-02"), None]
    );
}
