//! CSV import: every row becomes a normalized [`Contact`] or a [`Rejection`] naming line,
//! column and reason. A bad row never stops the good ones.

use super::{Contact, ContactId, E164, Email};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// What the command line adds to every row.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `--plan`: plan for rows without a `plan` column value.
    pub plan: Option<String>,
    /// `--source`: lead source for rows without one.
    pub source: Option<String>,
    /// `--enrolled-on`: enrollment day for rows without one.
    pub enrolled_on: NaiveDate,
    /// Region for phone numbers without a country code.
    pub default_region: String,
    /// Plan ids that exist (a row naming another plan is rejected).
    pub plans: HashSet<String>,
}

/// A row that was not imported.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// File name.
    pub file: String,
    /// 1-based line in the file.
    pub line: u64,
    /// The offending column.
    pub column: String,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: column {}: {}", self.file, self.line, self.column, self.reason)
    }
}

/// The parsed file.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Good rows, normalized (later rows with the same id win).
    pub contacts: Vec<Contact>,
    /// Bad rows.
    pub rejected: Vec<Rejection>,
}

/// Import failures that stop the whole file (rows are reported as [`Rejection`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be opened or is not CSV.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What went wrong.
        message: String,
    },
}

/// A CSV file read row by row: each item is a normalized contact or a rejection, so a file
/// of any size is imported in constant memory.
pub struct Rows<R: std::io::Read> {
    reader: csv::Reader<R>,
    headers: Vec<String>,
    file: String,
    opts: ImportOptions,
    record: csv::StringRecord,
}

impl Rows<std::fs::File> {
    /// Opens a CSV file (header row first).
    pub fn open(path: &Path, opts: &ImportOptions) -> Result<Self, ImportError> {
        let file = path.display().to_string();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "xlsx" || ext == "xls" {
            return Err(ImportError::File {
                file,
                message: "spreadsheets are not supported yet: save the sheet as CSV (UTF-8)".into(),
            });
        }
        let reader = csv_reader().from_path(path).map_err(|e| ImportError::File {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Rows::new(reader, &file, opts)
    }
}

fn csv_reader() -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.flexible(true).trim(csv::Trim::All);
    b
}

impl<R: std::io::Read> Rows<R> {
    /// Reads the header row of `reader`.
    pub fn new(mut reader: csv::Reader<R>, file: &str, opts: &ImportOptions) -> Result<Self, ImportError> {
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| ImportError::File {
                file: file.into(),
                message: format!("header row: {e}"),
            })?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase().replace([' ', '-'], "_"))
            .collect();
        if !headers.iter().any(|h| h == "email" || h == "phone") {
            return Err(ImportError::File {
                file: file.into(),
                message: "line 1: the header needs an `email` or a `phone` column".into(),
            });
        }
        Ok(Rows {
            reader,
            headers,
            file: file.into(),
            opts: opts.clone(),
            record: csv::StringRecord::new(),
        })
    }
}

impl<R: std::io::Read> Iterator for Rows<R> {
    /// A contact with its line number, or a rejected row.
    type Item = Result<(u64, Contact), Rejection>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    return Some(Err(Rejection {
                        file: self.file.clone(),
                        line,
                        column: "-".into(),
                        reason: e.to_string(),
                    }));
                }
                Ok(true) => {}
            }
            if self.record.iter().all(|v| v.is_empty()) {
                continue;
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(0);
            let raw: Vec<(&str, &str)> = self.headers.iter().map(String::as_str).zip(self.record.iter()).collect();
            return Some(
                normalize_row(&raw, &self.opts)
                    .map(|c| (line, c))
                    .map_err(|(column, reason)| Rejection {
                        file: self.file.clone(),
                        line,
                        column,
                        reason,
                    }),
            );
        }
    }
}

/// Reads a whole CSV into memory (later rows with the same id win). For tests and small files.
pub fn parse<R: std::io::Read>(reader: csv::Reader<R>, file: &str, opts: &ImportOptions) -> Result<Parsed, ImportError> {
    let mut out = Parsed::default();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for row in Rows::new(reader, file, opts)? {
        match row {
            Ok((_, contact)) => match index.get(&contact.id.0) {
                Some(&i) => out.contacts[i] = contact,
                None => {
                    index.insert(contact.id.0.clone(), out.contacts.len());
                    out.contacts.push(contact);
                }
            },
            Err(r) => out.rejected.push(r),
        }
    }
    Ok(out)
}

fn normalize_row(raw: &[(&str, &str)], opts: &ImportOptions) -> Result<Contact, (String, String)> {
    let mut fields = BTreeMap::new();
    for (column, value) in raw {
        // A cell `export` neutralized ('=...) reads back as it was.
        let value = &super::cells::restore(value);
        if value.is_empty() || column.is_empty() {
            continue;
        }
        let fail = |reason: String| (column.to_string(), reason);
        let value = match *column {
            "email" => Email::parse(value).map_err(fail)?.as_str().to_string(),
            "phone" => E164::parse(value, &opts.default_region).map_err(fail)?.as_str().to_string(),
            "enrolled_on" => parse_date(value).map_err(fail)?,
            "birthday" | "anniversary" | "home_purchase" => parse_day(value).map_err(fail)?,
            "timezone" => {
                value
                    .parse::<chrono_tz::Tz>()
                    .map_err(|_| fail(format!("unknown timezone {value:?}")))?;
                value.to_string()
            }
            "plan" => {
                if !opts.plans.is_empty() && !opts.plans.contains(*value) {
                    return Err(fail(format!("no plan {value:?} in jobs/")));
                }
                value.to_string()
            }
            "locale" => value.to_ascii_lowercase(),
            _ if value.chars().any(|c| c.is_control() && c != '\t') => {
                return Err(fail("control characters (line breaks) are not allowed in a field".into()));
            }
            _ => value.to_string(),
        };
        fields.insert(column.to_string(), value);
    }
    if !fields.contains_key("email") && !fields.contains_key("phone") {
        return Err(("email".into(), "a row needs an email or a phone".into()));
    }
    if let Some(plan) = &opts.plan {
        fields.entry("plan".into()).or_insert_with(|| plan.clone());
    }
    if let Some(source) = &opts.source {
        fields.entry("source".into()).or_insert_with(|| source.clone());
    }
    if fields.contains_key("plan") {
        fields.entry("enrolled_on".into()).or_insert_with(|| opts.enrolled_on.to_string());
    }
    let id = fields
        .get("id")
        .or_else(|| fields.get("email"))
        .or_else(|| fields.get("phone"))
        .cloned()
        .unwrap_or_default();
    fields.insert("id".into(), id.clone());
    Ok(Contact {
        id: ContactId(id),
        fields,
        plan_history: Vec::new(),
        responded_on: None,
        former: vec![],
    })
}

fn parse_date(value: &str) -> Result<String, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|d| d.to_string())
        .map_err(|_| format!("expected a date YYYY-MM-DD, got {value:?}"))
}

/// Birthdays and anniversaries: `YYYY-MM-DD` or `MM-DD`.
fn parse_day(value: &str) -> Result<String, String> {
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.to_string());
    }
    if let Ok(d) = NaiveDate::parse_from_str(&format!("2000-{value}"), "%Y-%m-%d") {
        return Ok(d.format("%m-%d").to_string());
    }
    Err(format!("expected YYYY-MM-DD or MM-DD, got {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ImportOptions {
        ImportOptions {
            plan: Some("8x8".into()),
            source: None,
            enrolled_on: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            default_region: "US".into(),
            plans: ["8x8".to_string()].into_iter().collect(),
        }
    }

    fn run(csv_text: &str) -> Parsed {
        let r = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(csv_text.as_bytes());
        parse(r, "c.csv", &opts()).unwrap()
    }

    #[test]
    fn normalizes_and_keeps_custom_fields() {
        let p = run("email,phone,first_name,pet\n  Ann@Example.COM ,(217) 201-3344,Ann,cat\n");
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        let c = &p.contacts[0];
        assert_eq!(c.id.0, "ann@example.com");
        assert_eq!(c.phone(), Some("+12172013344"));
        assert_eq!(c.get("pet"), Some("cat"));
        assert_eq!(c.plan(), Some("8x8"));
        assert_eq!(c.get("enrolled_on"), Some("2026-11-01"));
    }

    #[test]
    fn bad_rows_are_reported_and_good_rows_kept() {
        let p = run("email,birthday,plan\nok@example.com,05-17,8x8\nbad@,,\nx@example.com,13-40,\ny@example.com,,nope\n,,\n");
        assert_eq!(p.contacts.len(), 1);
        let lines: Vec<(u64, &str)> = p.rejected.iter().map(|r| (r.line, r.column.as_str())).collect();
        assert_eq!(lines, vec![(3, "email"), (4, "birthday"), (5, "plan")]);
        assert_eq!(p.contacts[0].get("birthday"), Some("05-17"));
    }

    #[test]
    fn reimport_does_not_reenroll() {
        let p = run("email\na@example.com\n");
        let mut stored = p.contacts[0].clone();
        stored.enroll("33-touch", NaiveDate::from_ymd_opt(2026, 12, 30).unwrap());
        assert!(!stored.merge(&p.contacts[0]));
        assert_eq!(stored.plan(), Some("33-touch"));
    }
}
