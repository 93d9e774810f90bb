//! Import: every row of a file (CSV/TSV text or a spreadsheet, see [`super::read`]) becomes a
//! normalized [`Contact`] or the list of its problems, each naming line, column and reason,
//! with a hint where one helps (the format of a date, the nearest plan name). A bad row never
//! stops the good ones.

use super::dates::{ColumnLook, DayOrder};
use super::headers::{self, Mapping};
use super::read::{self, RawRow, ReadOptions, Table};
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
    /// How to read the file (`--sheet`, `--delimiter`, `--encoding`).
    pub read: ReadOptions,
    /// `--map "Column=field"` pairs.
    pub map: Vec<(String, String)>,
    /// The pipeline stages a `status` value must name (`[pipeline] stages`).
    pub stages: Vec<String>,
    /// What a yes in an SMS consent column records: when and where it was given
    /// (`2026-12-07 import clients.xlsx`).
    pub consent_given: String,
    /// How a numeric date whose value does not tell is read (`--date-format`).
    pub day_order: super::dates::DayOrder,
    /// Per date field, how its column reads such a date, from all the column's values
    /// (filled by [`Rows::open`] when `day_order` is `auto`; a field not here uses `day_order`).
    pub column_orders: BTreeMap<String, super::dates::DayOrder>,
}

/// The consent an SMS consent cell records: `given` for a yes, `None` for a no or a blank
/// placeholder, else the cell as written (a date, `2026-03-01 open house`).
fn sms_consent(value: &str, given: &str) -> Option<String> {
    let folded = value.trim().to_lowercase();
    const YES: &[&str] = &[
        "yes",
        "y",
        "true",
        "1",
        "x",
        "✓",
        "✔",
        "☑",
        "ok",
        "opt-in",
        "opted in",
        "نعم",
        "موافق",
        "si",
        "sí",
        "oui",
        "ja",
    ];
    const NO: &[&str] = &[
        "no",
        "n",
        "false",
        "0",
        "-",
        "n/a",
        "na",
        "none",
        "✗",
        "✘",
        "opt-out",
        "opted out",
        "لا",
        "non",
        "nein",
    ];
    if YES.contains(&folded.as_str()) {
        Some(given.to_string())
    } else if NO.contains(&folded.as_str()) || folded.is_empty() {
        None
    } else {
        Some(value.trim().to_string())
    }
}

/// One problem of a row that was not imported (a row with three problems gives three).
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// File name (`file.xlsx[Sheet]` for a sheet).
    pub file: String,
    /// 1-based line in the file where the row starts (the row number in a sheet).
    pub line: u64,
    /// The offending column.
    pub column: String,
    /// Why, and what to do.
    pub reason: String,
}

impl Rejection {
    /// A problem of the row at `line`.
    pub fn new(file: &str, line: u64, column: &str, reason: String) -> Rejection {
        Rejection {
            file: file.to_string(),
            line,
            column: column.to_string(),
            reason,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: column {}: {}", self.file, self.line, self.column, self.reason)
    }
}

/// A file that cannot be imported at all (rows are reported as [`Rejection`]s instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read, or its header has no email or phone column.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What went wrong, and what to do.
        message: String,
    },
}

impl From<read::ReadError> for ImportError {
    fn from(e: read::ReadError) -> Self {
        ImportError::File {
            file: e.file,
            message: e.message,
        }
    }
}

/// The fields read as dates.
const DATE_FIELDS: [&str; 4] = ["enrolled_on", "birthday", "anniversary", "home_purchase"];

/// How many first rows are looked at for columns that hold emails or phones without being
/// mapped to them.
const SAMPLE_ROWS: u64 = 200;

/// A file read row by row: each item is a normalized contact with its line, or the problems of
/// a rejected row, so a file of any size is imported in constant memory.
pub struct Rows {
    table: Table,
    mapping: Mapping,
    opts: ImportOptions,
    rows_read: u64,
    /// Per custom column: (values seen, of which emails, of which phone numbers).
    looks: Vec<(u64, u64, u64)>,
    /// Cells left out of rows that were imported, not yet handed to a chunk.
    cell_warnings: Vec<String>,
    /// One note per date column that cannot tell day from month.
    date_notes: Vec<String>,
}

impl Rows {
    /// Opens a file (CSV/TSV text or a workbook) and maps its header row.
    pub fn open(path: &Path, opts: &ImportOptions) -> Result<Self, ImportError> {
        let mut rows = Rows::new(read::open(path, &opts.read)?, opts)?;
        if opts.day_order == DayOrder::Auto {
            rows.look_at_dates(read::open(path, &opts.read)?);
        }
        Ok(rows)
    }

    /// Reads the date columns of `table` (this file, opened again) before the import, so that
    /// a date whose value does not tell day from month is read as the rest of its column
    /// tells (`17/05/1985` anywhere makes the column day first), or not at all, with one note.
    fn look_at_dates(&mut self, table: Table) {
        let columns: Vec<(usize, String)> = (self.mapping.fields.iter().enumerate())
            .filter_map(|(i, f)| Some((i, f.as_deref().filter(|f| DATE_FIELDS.contains(f))?.to_string())))
            .collect();
        if columns.is_empty() {
            return;
        }
        let mut looks = vec![ColumnLook::default(); columns.len()];
        for row in table.rows.flatten() {
            for ((i, _), look) in columns.iter().zip(&mut looks) {
                let cell = super::cells::restore(row.cells.get(*i).map_or("", String::as_str));
                if !cell.is_empty() {
                    look.see(row.line, first_of_several(cell).unwrap_or(cell));
                }
            }
            if looks.iter().all(ColumnLook::settled) {
                break;
            }
        }
        for ((_, field), look) in columns.iter().zip(&looks) {
            self.opts.column_orders.insert(field.clone(), look.order());
            let header = self
                .mapping
                .shown
                .iter()
                .find(|(_, f, _)| f == field)
                .map_or(field.as_str(), |(h, _, _)| h);
            self.date_notes.extend(look.note(header));
        }
    }

    /// Maps the header row of an opened table.
    pub fn new(table: Table, opts: &ImportOptions) -> Result<Self, ImportError> {
        let mapping = headers::map(&table.headers, &opts.map).map_err(|message| ImportError::File {
            file: table.label.clone(),
            message: format!("line 1: {message}"),
        })?;
        let looks = vec![(0, 0, 0); mapping.fields.len()];
        Ok(Rows {
            table,
            mapping,
            opts: opts.clone(),
            rows_read: 0,
            cell_warnings: Vec::new(),
            date_notes: Vec::new(),
            looks,
        })
    }

    /// How messages name the file.
    pub fn label(&self) -> &str {
        &self.table.label
    }

    /// How the file is read (encoding and separator, or sheet).
    pub fn described(&self) -> &str {
        &self.table.described
    }

    /// Which column became which field: `(header, field, how)`.
    pub fn columns(&self) -> &[(String, String, &'static str)] {
        &self.mapping.shown
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// What the file as a whole says: date columns that cannot tell day from month, custom
    /// columns whose values look like email addresses or phone numbers (probably a column that
    /// should be mapped with `--map`).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = self.date_notes.clone();
        for (i, (seen, emails, phones)) in self.looks.iter().enumerate() {
            let Some((header, field, "custom" | "fallback")) = self
                .mapping
                .shown
                .iter()
                .find(|(_, f, _)| Some(f) == self.mapping.fields[i].as_ref())
                .cloned()
            else {
                continue;
            };
            let kind = if *seen >= 3 && emails * 10 >= seen * 8 {
                "email"
            } else if *seen >= 3 && phones * 10 >= seen * 8 {
                "phone"
            } else {
                continue;
            };
            out.push(format!(
                "column {header:?} (kept as custom field `{field}`) looks like {kind} values but is not used as the {kind}: --map \"{header}={kind}\" if it should be"
            ));
        }
        out
    }

    fn sample(&mut self, row: &RawRow) {
        if self.rows_read > SAMPLE_ROWS {
            return;
        }
        for (i, value) in row.cells.iter().enumerate().take(self.looks.len()) {
            if value.is_empty() {
                continue;
            }
            let l = &mut self.looks[i];
            l.0 += 1;
            l.1 += u64::from(value.contains('@') && Email::parse(value).is_ok());
            l.2 +=
                u64::from(value.chars().filter(char::is_ascii_digit).count() >= 7 && E164::parse(value, &self.opts.default_region).is_ok());
        }
    }
}

/// Rows read ahead: up to `size` contacts with the rejections met on the way.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Normalized contacts with their lines.
    pub rows: Vec<(u64, Contact)>,
    /// Every rejected row's problems.
    pub rejected: Vec<Vec<Rejection>>,
    /// Cells left out of imported rows (`file:line: warning: ...`).
    pub warnings: Vec<String>,
    /// Data rows read from the file so far (for a progress line).
    pub rows_read: u64,
}

impl Rows {
    /// Reads and normalizes the file on a thread of its own, `size` contacts a chunk, at most
    /// two chunks ahead of the consumer: the parsing of the next chunk overlaps the writing of
    /// this one, in constant memory. The task gives the `Rows` back (for its summary) once
    /// the file is read or the receiver is dropped.
    pub fn read_ahead(mut self, size: usize) -> (tokio::sync::mpsc::Receiver<Chunk>, tokio::task::JoinHandle<Rows>) {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let reader = tokio::task::spawn_blocking(move || {
            loop {
                let mut chunk = Chunk {
                    rows: Vec::with_capacity(size),
                    ..Chunk::default()
                };
                for row in self.by_ref() {
                    match row {
                        Ok(r) => chunk.rows.push(r),
                        Err(problems) => chunk.rejected.push(problems),
                    }
                    if chunk.rows.len() == size {
                        break;
                    }
                }
                chunk.rows_read = self.rows_read;
                chunk.warnings = std::mem::take(&mut self.cell_warnings);
                let last = chunk.rows.len() < size;
                if (chunk.rows.is_empty() && chunk.rejected.is_empty()) || tx.blocking_send(chunk).is_err() || last {
                    return self;
                }
            }
        });
        (rx, reader)
    }
}

impl Iterator for Rows {
    /// A contact with its line number, or every problem of a rejected row.
    type Item = Result<(u64, Contact), Vec<Rejection>>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.table.rows.next()? {
            Ok(row) => row,
            Err(r) => return Some(Err(vec![r])),
        };
        self.rows_read += 1;
        self.sample(&row);
        let mut raw: Vec<(&str, &str)> = self
            .mapping
            .fields
            .iter()
            .zip(&row.cells)
            .filter_map(|(f, v)| Some((f.as_deref()?, v.as_str())))
            .collect();
        self.mapping.fill_in(&row.cells, &mut raw);
        let label = &self.table.label;
        let normalized = normalize_row(&raw, &self.opts);
        let (line, warnings) = (row.line, &mut self.cell_warnings);
        Some(
            normalized
                .map(|(c, left_out)| {
                    warnings.extend(
                        left_out
                            .into_iter()
                            .map(|(column, reason)| format!("{label}:{line}: warning: column {column}: {reason}")),
                    );
                    (line, c)
                })
                .map_err(|problems| {
                    problems
                        .into_iter()
                        .map(|(column, reason)| Rejection::new(label, line, &column, reason))
                        .collect()
                }),
        )
    }
}

/// A cell's problem: the field and what is wrong.
pub type CellProblem = (String, String);

/// Normalizes one row: the contact with the cells left out of it (a bad cell that only adds to
/// the person — a birthday, an anniversary, a custom field, a phone beside a good email), or
/// every problem found in a row that cannot be imported (a bad cell that decides what is sent:
/// `enrolled_on`, `plan`, `status`, `timezone`, the only address).
pub fn normalize_row(raw: &[(&str, &str)], opts: &ImportOptions) -> Result<(Contact, Vec<CellProblem>), Vec<CellProblem>> {
    let mut fields = BTreeMap::new();
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut several: Vec<CellProblem> = Vec::new();
    for (column, value) in raw {
        // A cell `export` neutralized ('=...) reads back as it was.
        let restored = super::cells::restore(value);
        if restored.is_empty() || column.is_empty() {
            continue;
        }
        let value: &str = match first_of_several(restored) {
            Some(first) => {
                several.push((
                    column.to_string(),
                    format!("several values ({restored:?}): the first, {first:?}, was taken"),
                ));
                first
            }
            None => restored,
        };
        if *column == "sms_consent" {
            // yes/✓/1 → when and where it was given; no/0 → none (not an error); a date or a
            // note of where it was given → kept as written.
            if let Some(consent) = sms_consent(value, &opts.consent_given) {
                fields.insert("sms_consent".to_string(), consent);
            }
            continue;
        }
        if DATE_FIELDS.contains(column) {
            let order = opts.column_orders.get(*column).copied().unwrap_or(opts.day_order);
            match read_day(column, value, order) {
                Ok(Some(day)) => {
                    fields.insert(column.to_string(), day);
                }
                Ok(None) => {}
                Err(reason) => problems.push((column.to_string(), reason)),
            }
            continue;
        }
        let value: Result<String, String> = match *column {
            "email" => Email::parse(value).map(|e| e.as_str().to_string()),
            "phone" => E164::parse(value, &opts.default_region).map(|p| p.as_str().to_string()),
            "timezone" => value
                .parse::<chrono_tz::Tz>()
                .map(|_| value.to_string())
                .map_err(|_| format!("unknown timezone {value:?} (an IANA name such as America/Chicago or Asia/Riyadh)")),
            "plan" if !opts.plans.is_empty() && !opts.plans.contains(value) => Err(unknown_plan(value, &opts.plans)),
            "locale" => Ok(value.to_ascii_lowercase()),
            "status" if !opts.stages.is_empty() => super::pipeline::Pipeline::new(&opts.stages).resolve(value),
            // A note may run over lines (a multi-line cell); a name or an id may not.
            "first_name" | "last_name" | "id" | "source" | "agent" if value.chars().any(|c| c.is_control() && c != '\t') => {
                Err("line breaks and control characters are not allowed in this column".into())
            }
            _ if value.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) => {
                Err("control characters are not allowed in a field".into())
            }
            _ => Ok(value.replace("\r\n", "\n")),
        };
        match value {
            Ok(v) => {
                fields.insert(column.to_string(), v);
            }
            Err(reason) => problems.push((column.to_string(), reason)),
        }
    }
    let had_address = raw.iter().any(|(c, v)| matches!(*c, "email" | "phone") && !v.is_empty());
    if !fields.contains_key("email") && !fields.contains_key("phone") && !had_address {
        problems.push(("email".into(), "a row needs an email or a phone".into()));
    }
    let has_email = fields.contains_key("email");
    let (left_out, blocking): (Vec<_>, Vec<_>) = problems.into_iter().partition(|(column, _)| only_adds(column, has_email));
    if !blocking.is_empty() {
        return Err(blocking.into_iter().chain(left_out).collect());
    }
    let mut left_out: Vec<CellProblem> = left_out
        .into_iter()
        .map(|(column, reason)| (column, format!("{reason}; the cell was left out, the rest of the row imported")))
        .collect();
    left_out.extend(several);
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
    let contact = Contact {
        id: ContactId(id),
        fields,
        plan_history: Vec::new(),
        responded_on: None,
        former: vec![],
    };
    Ok((contact, left_out))
}

/// The first of several values in one cell, as Google Contacts writes them
/// (`a@x.com ::: b@y.com`); `None` for a cell of one value.
fn first_of_several(cell: &str) -> Option<&str> {
    if !cell.contains(":::") {
        return None;
    }
    let mut values = cell.split(":::").map(str::trim).filter(|v| !v.is_empty());
    let first = values.next()?;
    values.next().map(|_| first)
}

/// True for a column whose bad cell only takes something from the person (not what is sent to
/// them, nor whether they can be reached): it is left out and the person imported.
fn only_adds(column: &str, has_email: bool) -> bool {
    matches!(column, "birthday" | "anniversary" | "home_purchase")
        || (column == "phone" && has_email)
        || !super::KNOWN_COLUMNS.contains(&column)
}

/// "no plan X", with the nearest plan name when one is close.
fn unknown_plan(value: &str, plans: &HashSet<String>) -> String {
    let mut known: Vec<&String> = plans.iter().collect();
    known.sort();
    let nearest = known
        .iter()
        .map(|p| (strsim::levenshtein(&value.to_lowercase(), &p.to_lowercase()), *p))
        .min()
        .filter(|(d, p)| *d <= 2.max(p.len() / 3));
    match nearest {
        Some((_, p)) => format!("no plan {value:?} in jobs/; did you mean {p:?}?"),
        None => format!(
            "no plan {value:?} in jobs/ (plans: {})",
            known.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A hint for a date written day/month/year or month/day/year.
/// A date column's value: `enrolled_on` a whole date, birthdays and anniversaries also a month
/// and day; `None` for an empty placeholder (`0/0/00`).
fn read_day(column: &str, value: &str, order: DayOrder) -> Result<Option<String>, String> {
    let day = super::dates::read(value, order)?;
    if column == "enrolled_on" && matches!(day, super::dates::Day::MonthDay(..)) {
        return Err(format!("{value:?} has no year; enrolled_on needs a whole date"));
    }
    Ok(super::dates::iso(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_consent_cells_say_yes_no_or_when() {
        let given = "2026-12-07 import a.csv";
        for yes in ["yes", "Y", "TRUE", "1", "✓", "x", "نعم"] {
            assert_eq!(sms_consent(yes, given).as_deref(), Some(given), "{yes}");
        }
        for no in ["no", "N", "false", "0", "-", "n/a", "لا", "  "] {
            assert_eq!(sms_consent(no, given), None, "{no}");
        }
        assert_eq!(
            sms_consent(" 2026-03-01 open house ", given).as_deref(),
            Some("2026-03-01 open house")
        );
    }

    fn opts() -> ImportOptions {
        ImportOptions {
            consent_given: "2026-01-01 import test.csv".into(),
            day_order: Default::default(),
            column_orders: BTreeMap::new(),
            plan: Some("8x8".into()),
            source: None,
            enrolled_on: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            default_region: "US".into(),
            plans: ["8x8".to_string(), "33-touch".to_string()].into_iter().collect(),
            read: ReadOptions::default(),
            map: Vec::new(),
            stages: crate::config::PipelineConfig::default().stages,
        }
    }

    /// Good rows (later rows with the same id win) and problems of a CSV text.
    #[derive(Default)]
    struct Parsed {
        contacts: Vec<Contact>,
        rejected: Vec<Rejection>,
    }

    fn run(csv_text: &str) -> Parsed {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, csv_text).unwrap();
        let mut out = Parsed::default();
        for row in Rows::open(&path, &opts()).unwrap() {
            match row {
                Ok((_, c)) => match out.contacts.iter().position(|k| k.id == c.id) {
                    Some(i) => out.contacts[i] = c,
                    None => out.contacts.push(c),
                },
                Err(r) => out.rejected.extend(r),
            }
        }
        out
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
        // A bad birthday only takes the birthday: x@ is imported without it.
        assert_eq!(p.contacts.len(), 2);
        let lines: Vec<(u64, &str)> = p.rejected.iter().map(|r| (r.line, r.column.as_str())).collect();
        assert_eq!(lines, vec![(3, "email"), (5, "plan")]);
        assert_eq!(p.contacts[0].get("birthday"), Some("05-17"));
        assert_eq!(
            (p.contacts[1].id.0.as_str(), p.contacts[1].get("birthday")),
            ("x@example.com", None)
        );
    }

    #[test]
    fn a_status_names_a_stage() {
        let p = run("email,status\na@example.com,Interested\nb@example.com,intrested\n");
        assert_eq!(p.contacts[0].get("status"), Some("interested"));
        assert!(p.rejected[0].reason.contains("did you mean \"interested\""), "{:?}", p.rejected);
    }

    #[test]
    fn every_problem_of_a_row_with_hints() {
        let p = run("email,birthday,plan,enrolled_on\nbad@,17/05/1985,8X9,05/07/2026\n");
        let got: Vec<(&str, &str)> = p.rejected.iter().map(|r| (r.column.as_str(), r.reason.as_str())).collect();
        // 17/05/1985 is read (only a day can be 17); 05/07/2026 cannot be told (the column's
        // note says what to set).
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[1].1.contains("did you mean \"8x8\""), "{got:?}");
        assert!(got[2].1.contains("could be month/day or day/month"), "{got:?}");
        assert!(p.rejected.iter().all(|r| r.line == 2));
    }

    /// Warnings of the file as a whole and the cells left out, for a CSV text.
    fn notes(csv_text: &str) -> (Parsed, Vec<String>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, csv_text).unwrap();
        let mut rows = Rows::open(&path, &opts()).unwrap();
        let mut out = Parsed::default();
        for row in rows.by_ref() {
            match row {
                Ok((_, c)) => out.contacts.push(c),
                Err(r) => out.rejected.extend(r),
            }
        }
        let left_out = std::mem::take(&mut rows.cell_warnings);
        (out, rows.warnings(), left_out)
    }

    #[test]
    fn a_date_column_is_read_in_the_order_its_values_tell() {
        // Line 2 alone cannot tell; line 4's 17 can only be a day: the column is day first.
        let (p, warnings, left_out) = notes(
            "email,Birthday,enrolled_on\na@example.com,05/06/1985,01/02/2026\nb@example.com,,\nc@example.com,17/05/1990,13/02/2026\n",
        );
        assert!(
            p.rejected.is_empty() && warnings.is_empty() && left_out.is_empty(),
            "{:?} {warnings:?} {left_out:?}",
            p.rejected
        );
        let a = &p.contacts[0];
        assert_eq!((a.get("birthday"), a.get("enrolled_on")), (Some("1985-06-05"), Some("2026-02-01")));
        // Every birthday could be either: one note on the column, each cell left out briefly,
        // the people imported; nothing is guessed.
        let (p, warnings, left_out) = notes("email,Birthday\na@example.com,05/06/1985\nb@example.com,03/04/1990\n");
        assert_eq!(p.contacts.len(), 2);
        assert!(p.contacts.iter().all(|c| c.get("birthday").is_none()));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("column \"Birthday\": every date") && warnings[0].contains("--date-format"),
            "{warnings:?}"
        );
        assert_eq!(left_out.len(), 2, "{left_out:?}");
        assert!(
            left_out.iter().all(|w| w.contains("see the note") && !w.contains("--date-format")),
            "{left_out:?}"
        );
        // An explicit order reads them without a note.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, "email,Birthday\na@example.com,05/06/1985\n").unwrap();
        let us = ImportOptions {
            day_order: DayOrder::MonthFirst,
            ..opts()
        };
        let mut rows = Rows::open(&path, &us).unwrap();
        let (_, c) = rows.next().unwrap().unwrap();
        assert_eq!(c.get("birthday"), Some("1985-05-06"));
        assert!(rows.warnings().is_empty());
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
