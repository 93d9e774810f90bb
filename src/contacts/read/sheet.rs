//! Workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) through calamine: the first sheet or
//! `--sheet NAME`, its first non-empty row as the header. Cells become the text a person sees:
//! a date cell is `YYYY-MM-DD`, a whole number keeps all its digits (a phone number stored as a
//! number is not `1.2e9`), a formula gives its computed value. Rows are numbered as the
//! spreadsheet numbers them.

use super::{RawRow, ReadError, ReadOptions, Table};
use crate::contacts::import::Rejection;
use calamine::{Data, DataType, Reader};
use std::path::Path;

/// Opens a workbook sheet.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<Table, ReadError> {
    let file = path.display().to_string();
    let fail = |message: String| ReadError {
        file: file.clone(),
        message,
    };
    let mut book = calamine::open_workbook_auto(path).map_err(|e| fail(format!("not a readable workbook: {e}")))?;
    let names = book.sheet_names();
    let name = match &opts.sheet {
        Some(wanted) => names
            .iter()
            .find(|n| n.as_str() == wanted || n.eq_ignore_ascii_case(wanted))
            .cloned()
            .ok_or_else(|| fail(format!("no sheet {wanted:?} (sheets: {})", names.join(", "))))?,
        None => names.first().cloned().ok_or_else(|| fail("the workbook has no sheet".into()))?,
    };
    let range = book.worksheet_range(&name).map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
    let first_row = range.start().map_or(0, |(row, _)| row as u64);
    let label = format!("{file}[{name}]");
    let mut rows = range
        .rows()
        .enumerate()
        .map(|(i, cells)| RawRow {
            line: first_row + i as u64 + 1,
            cells: cells.iter().map(cell_text).collect(),
        })
        .filter(|r| r.cells.iter().any(|c| !c.is_empty()))
        .collect::<Vec<_>>()
        .into_iter();
    let header = rows.next().ok_or_else(|| {
        fail(format!(
            "sheet {name:?} is empty: its first row must name the columns (email, phone, first_name...)"
        ))
    })?;
    let described = if names.len() > 1 {
        format!("sheet {name:?} of {} (--sheet to choose)", names.len())
    } else {
        format!("sheet {name:?}")
    };
    Ok(Table {
        label,
        headers: header.cells,
        header_line: header.line,
        described,
        rows: Box::new(rows.map(Ok::<RawRow, Rejection>)),
    })
}

/// A cell as the text a person sees in it.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(_) | Data::DateTimeIso(_) => match cell.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
            None => cell.to_string(),
        },
        Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// A number without an exponent or a trailing `.0`: whole numbers (phone numbers, ZIP codes,
/// ids) keep every digit.
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e17 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(number_text(12175550100.0), "12175550100");
        assert_eq!(number_text(966501234567.0), "966501234567");
        assert_eq!(number_text(2.5), "2.5");
        assert_eq!(cell_text(&Data::Float(62701.0)), "62701");
        assert_eq!(cell_text(&Data::String("  Ann ".into())), "Ann");
    }
}
