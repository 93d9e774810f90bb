//! Reading contact files: whatever the format — CSV/TSV text in any common encoding
//! ([`text`]) or a spreadsheet ([`sheet`]) — becomes a [`Table`]: the header row and the data
//! rows, each with the line (or sheet row) a person finds it at. Normalizing the rows is
//! [`super::import`]'s job.

pub mod sheet;
pub mod text;

use super::import::Rejection;
use std::path::Path;

/// How to read a file (`import` flags).
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// `--sheet`: the sheet of a workbook (default: the first).
    pub sheet: Option<String>,
    /// `--delimiter`: forces the separator of a text file.
    pub delimiter: Option<u8>,
    /// `--encoding`: the encoding of a text file without a byte order mark.
    pub encoding: Option<String>,
    /// `--header-row N`: the line (or sheet row) that names the columns (default: found — the
    /// first of the first rows that names two known columns, below any title rows).
    pub header_row: Option<u64>,
}

/// One data row: the line (text) or row (sheet) where it starts, and its cells as text.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// 1-based line of the file, or row of the sheet.
    pub line: u64,
    /// The cells, in header order (a short row has fewer).
    pub cells: Vec<String>,
}

/// A file opened for import.
pub struct Table {
    /// How messages name the file (`contacts.xlsx[Leads]` for a sheet).
    pub label: String,
    /// The header row as written.
    pub headers: Vec<String>,
    /// Its line (or sheet row).
    pub header_line: u64,
    /// How it is read (`UTF-8, ','-separated`, `sheet Leads`), for the summary.
    pub described: String,
    /// The data rows (a row that cannot be read at all is a rejection).
    pub rows: Box<dyn Iterator<Item = Result<RawRow, Rejection>> + Send>,
}

/// A file that cannot be read at all.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ReadError {
    /// The file.
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Opens `path` by its extension: `.xlsx`, `.xlsm`, `.xls`, `.ods` as workbooks, anything
/// else (`.csv`, `.txt`, `.tsv`) as delimited text.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<Table, ReadError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let table = match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => sheet::open(path, opts)?,
        _ => text::open(path, opts)?,
    };
    find_header(table, opts.header_row)
}

/// Rows looked at for a header below title rows.
const HEADER_WITHIN: usize = 10;

/// Makes the header row the one that names the columns: `wanted` (`--header-row`), else — when
/// the first row names fewer than two known columns (a title such as "Client list — March
/// 2026") — the first of the next rows that names two; the rows above it are left out.
fn find_header(mut table: Table, wanted: Option<u64>) -> Result<Table, ReadError> {
    let known = |cells: &[String]| cells.iter().filter(|c| super::headers::known_field(c).is_some()).count();
    let fits = |line: u64, cells: &[String]| match wanted {
        Some(n) => line == n,
        None => known(cells) >= 2,
    };
    if fits(table.header_line, &table.headers) {
        return Ok(table);
    }
    let mut looked = Vec::new();
    let limit = if wanted.is_some() { 1000 } else { HEADER_WITHIN };
    while looked.len() < limit {
        match table.rows.next() {
            None => break,
            Some(Ok(r)) if fits(r.line, &r.cells) => {
                table.headers = r.cells;
                table.header_line = r.line;
                return Ok(table);
            }
            Some(other) => looked.push(other),
        }
    }
    if let Some(n) = wanted {
        return Err(ReadError {
            file: table.label.clone(),
            message: format!(
                "--header-row {n}: there is no such row with cells (the header found at row {} was tried first)",
                table.header_line
            ),
        });
    }
    // No row names two known columns: the first row stays the header (its mapping says what
    // is missing), and the rows looked at are read as they were.
    let rest = std::mem::replace(&mut table.rows, Box::new(std::iter::empty()));
    table.rows = Box::new(looked.into_iter().chain(rest));
    Ok(table)
}
