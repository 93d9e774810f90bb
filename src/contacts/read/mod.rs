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
    match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => sheet::open(path, opts),
        _ => text::open(path, opts),
    }
}
