//! `nurture export [--format csv|xlsx] [--out FILE] [--bom]`: every contact, with
//! `suppressed_email` / `suppressed_sms` columns so a list taken elsewhere keeps the opt-outs.
//! The known columns come first (the postal address in its parts), then the custom ones.
//! Writing is [`super::table_out`]'s: formula cells neutralized, a workbook all text.

use super::connect;
use super::table_out::{self, Out};
use crate::config::Config;
use clap::{Args, ValueEnum};
use futures::TryStreamExt;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

/// Table formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// CSV (UTF-8).
    Csv,
    /// An Excel workbook (needs `--out`).
    Xlsx,
}

/// `export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// `csv` or `xlsx`.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: TableFormat,
    /// The file to write (default: stdout; a workbook needs a file).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start the CSV with a UTF-8 byte order mark, so that Excel shows Arabic and accented
    /// names right when the file is double-clicked.
    #[arg(long)]
    pub bom: bool,
}

/// Known columns in the order a spreadsheet shows them: who, how to reach, where, the rest.
const ORDER: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "address",
    "city",
    "state",
    "postal_code",
    "country",
];

pub(super) async fn export(config: Config, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let mut contacts = Vec::new();
    let mut columns: BTreeSet<String> = BTreeSet::new();
    let mut pages = std::pin::pin!(store.contact_pages(5000));
    while let Some(page) = pages.try_next().await? {
        for c in &page {
            columns.extend(c.fields.keys().cloned());
        }
        contacts.extend(page);
    }
    contacts.sort_by(|a, b| a.id.cmp(&b.id));
    let mut known: Vec<String> = ORDER.iter().map(|s| s.to_string()).collect();
    known.extend(
        crate::contacts::KNOWN_COLUMNS
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !ORDER.contains(&c.as_str())),
    );
    let mut order: Vec<String> = known.iter().filter(|c| columns.contains(*c)).cloned().collect();
    order.extend(columns.iter().filter(|c| !known.contains(c)).cloned());
    let mut head = order.clone();
    head.extend(["suppressed_email".to_string(), "suppressed_sms".to_string()]);
    let mut rows = vec![head];
    for chunk in contacts.chunks(1000) {
        let emails: Vec<String> = chunk.iter().map(|c| c.email().unwrap_or("").to_string()).collect();
        let phones: Vec<String> = chunk.iter().map(|c| c.phone().unwrap_or("").to_string()).collect();
        let se = store.suppressed_among("email", &emails).await?;
        let ss = store.suppressed_among("sms", &phones).await?;
        for ((c, e), s) in chunk.iter().zip(se).zip(ss) {
            let mut row: Vec<String> = order.iter().map(|k| c.get(k).unwrap_or("").to_string()).collect();
            row.push(if e && c.email().is_some() { "yes".into() } else { String::new() });
            row.push(if s && c.phone().is_some() { "yes".into() } else { String::new() });
            rows.push(row);
        }
    }
    let out = Out {
        xlsx: a.format == TableFormat::Xlsx,
        path: a.out.as_deref(),
        bom: a.bom,
        sheet: "Contacts",
    };
    table_out::write(&rows, out)?;
    Ok(ExitCode::SUCCESS)
}
