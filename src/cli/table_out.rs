//! Writing a table (a header row and text rows) for people to open: CSV to stdout or a file,
//! with a UTF-8 byte order mark when `--bom` says it is for Excel (which otherwise reads UTF-8
//! as the local code page and mangles Arabic or accented names), or an `.xlsx` workbook
//! (rust_xlsxwriter: bold frozen header, fitted columns, every cell text). CSV cells a
//! spreadsheet would run as a formula are neutralized; workbook cells are text, never formulas.

use crate::contacts::cells::neutralize;
use std::io::Write;
use std::path::Path;

/// Where and how a table goes.
#[derive(Debug, Clone, Copy)]
pub struct Out<'a> {
    /// `xlsx` instead of CSV.
    pub xlsx: bool,
    /// The file (else stdout; a workbook needs a file).
    pub path: Option<&'a Path>,
    /// Start the CSV with a UTF-8 byte order mark.
    pub bom: bool,
    /// The sheet's name in a workbook.
    pub sheet: &'a str,
}

impl Out<'_> {
    /// Plain CSV to stdout.
    pub fn csv_to_stdout() -> Out<'static> {
        Out {
            xlsx: false,
            path: None,
            bom: false,
            sheet: "Sheet1",
        }
    }
}

/// Writes `rows` (the first is the header).
pub fn write(rows: &[Vec<String>], out: Out<'_>) -> anyhow::Result<()> {
    if out.xlsx {
        let path = out
            .path
            .ok_or_else(|| anyhow::anyhow!("--format xlsx writes a file: add --out FILE.xlsx"))?;
        return write_xlsx(rows, out.sheet, path);
    }
    let sink: Box<dyn Write> = match out.path {
        Some(p) => Box::new(crate::private_file::create(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::new(sink);
    if out.bom {
        sink.write_all("\u{feff}".as_bytes())?;
    }
    let mut w = csv::Writer::from_writer(sink);
    for row in rows {
        w.write_record(row.iter().map(|c| neutralize(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

fn write_xlsx(rows: &[Vec<String>], sheet_name: &str, path: &Path) -> anyhow::Result<()> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            if r == 0 {
                sheet.write_string_with_format(r, c, cell, &bold)?;
            } else if !cell.is_empty() {
                sheet.write_string(r, c, cell)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    book.save(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    crate::private_file::restrict(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}

/// `rows` (the first is the header) as an aligned text table for a terminal (comfy-table:
/// display widths, so Arabic and accented names line up); the columns `numeric` says are
/// right-aligned.
pub fn text(rows: &[Vec<String>], numeric: impl Fn(usize) -> bool) -> String {
    use comfy_table::{CellAlignment, ContentArrangement, LineStyle, Table, TableStyle};
    let mut table = Table::new();
    table
        .load_style(TableStyle::new().header_separator(LineStyle::none().fill('─').junction('─')))
        .set_content_arrangement(ContentArrangement::Disabled);
    let Some((header, body)) = rows.split_first() else {
        return String::new();
    };
    table.set_header(header);
    for row in body {
        table.add_row(row);
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        if numeric(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!("{table}\n")
}
