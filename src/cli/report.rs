//! `nurture report customers [--json|--csv] [--date D]`: every contact with deals, its RFM
//! scores and segment and its ABC class ([`crate::report::customers`]), highest value first.

use super::{clock_and_date, connect, print_json};
use crate::config::Config;
use crate::report::customers;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `report` flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Which report.
    #[command(subcommand)]
    pub which: Which,
}

/// The reports.
#[derive(Debug, Subcommand)]
pub enum Which {
    /// RFM scores, segment and ABC class of every contact with at least one deal.
    Customers {
        /// The day recency is counted to (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// One JSON array.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV with a header row.
        #[arg(long)]
        csv: bool,
    },
}

pub(super) async fn report(config: Config, a: ReportArgs) -> anyhow::Result<ExitCode> {
    let Which::Customers { date, json, csv } = a.which;
    let (_, today) = clock_and_date(&config, date, None);
    let store = connect(&config).await?;
    let rows = customers::customers(&store.deals().await?, today, config.report.abc);
    if json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![
        ["contact", "recency_days", "frequency", "monetary", "rfm", "segment", "abc"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    ];
    for r in &rows {
        table.push(vec![
            r.contact_id.clone(),
            r.recency_days.to_string(),
            r.frequency.to_string(),
            format!("{:.2}", r.monetary),
            r.rfm.clone(),
            r.segment.to_string(),
            r.abc.to_string(),
        ]);
    }
    if csv {
        let out = super::table_out::Out {
            xlsx: false,
            path: None,
            bom: false,
            sheet: "Customers",
        };
        super::table_out::write(&table, out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no deals recorded yet (`nurture record deal CONTACT --value V`)");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", aligned(&table));
    let count = |c: char| rows.iter().filter(|r| r.abc == c).count();
    println!(
        "\n{} customers on {today}: {} A, {} B, {} C (shares {:?} % of value)",
        rows.len(),
        count('A'),
        count('B'),
        count('C'),
        config.report.abc
    );
    Ok(ExitCode::SUCCESS)
}

/// Columns padded to their widest cell (display width, so Arabic names line up too); numbers
/// right-aligned.
fn aligned(table: &[Vec<String>]) -> String {
    use unicode_width::UnicodeWidthStr;
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|r| r[c].width()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in table {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = " ".repeat(widths[c] - cell.width());
                if (1..=3).contains(&c) {
                    format!("{pad}{cell}")
                } else {
                    format!("{cell}{pad}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
