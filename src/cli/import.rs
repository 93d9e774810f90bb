//! `nurture import FILE`: read the file (CSV/TSV in any common encoding, or a workbook), upsert
//! its rows through [`crate::intake`], report — the columns used, every problem by line, the
//! notes — with a progress line on a terminal.

use super::{clock_and_date, connect, print_json};
use crate::config::Config;
use crate::contacts::import::{ImportOptions, Rows};
use crate::contacts::read::ReadOptions;
use crate::intake::{CHUNK, Intake};
use crate::plans;
use chrono::NaiveDate;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Contacts file: `.csv`, `.txt`, `.tsv` (header row first), `.xlsx`, `.xls` or `.ods`.
    pub file: PathBuf,
    /// Plan for rows without a `plan` value.
    #[arg(long)]
    pub plan: Option<String>,
    /// Lead source for rows without a `source` value.
    #[arg(long)]
    pub source: Option<String>,
    /// Enrollment day for rows without `enrolled_on` (default: today).
    #[arg(long)]
    pub enrolled_on: Option<NaiveDate>,
    /// The sheet of a workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// The separator of a text file: `,` `;` `tab` (default: detected from the header row).
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// The encoding of a text file without a byte order mark, e.g. `windows-1256`,
    /// `windows-1252`, `iso-8859-6` (default: UTF-8, else detected).
    #[arg(long)]
    pub encoding: Option<String>,
    /// Use a column for a field: `--map "Mail Adresse=email"` (repeatable).
    #[arg(long = "map", value_parser = parse_map)]
    pub map: Vec<(String, String)>,
    /// The line (or sheet row) that names the columns, when title rows above it are not
    /// found by themselves (default: the first row that names two known columns).
    #[arg(long)]
    pub header_row: Option<u64>,
    /// How to read a numeric date whose value does not tell (`05/06/1985`): `us` (month
    /// first) or `eu` (day first); default `[contacts] date_format` (`auto`: such a date is
    /// refused with this advice).
    #[arg(long)]
    pub date_format: Option<String>,
    /// Report only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// New contacts without an agent get one (and a plan) by the `[assign]` rules.
    #[arg(long)]
    pub assign: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," | "comma" => Ok(b','),
        ";" | "semicolon" => Ok(b';'),
        "\t" | "tab" | "\\t" => Ok(b'\t'),
        "|" | "pipe" => Ok(b'|'),
        _ => Err(format!("{s:?}: use `,` `;` `tab` or `|`")),
    }
}

fn parse_map(s: &str) -> Result<(String, String), String> {
    let (column, field) = s.rsplit_once('=').ok_or_else(|| format!("{s:?}: write \"Column Name=field\""))?;
    if column.trim().is_empty() || field.trim().is_empty() {
        return Err(format!("{s:?}: write \"Column Name=field\""));
    }
    Ok((column.trim().to_string(), field.trim().to_string()))
}

pub(super) async fn import(config: Config, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let (plans, _) = plans::load_dir(&config.resolve(&config.paths.jobs));
    if let Some(p) = &a.plan
        && !plans.contains_key(p)
    {
        anyhow::bail!(
            "--plan {p:?}: no such plan in {} (plans: {})",
            config.paths.jobs.display(),
            plans.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let (_, today) = clock_and_date(&config, None, None);
    let opts = ImportOptions {
        plan: a.plan.clone(),
        source: a.source.clone(),
        enrolled_on: a.enrolled_on.unwrap_or(today),
        default_region: config.contacts.default_region.clone(),
        plans: plans.keys().cloned().collect(),
        read: ReadOptions {
            sheet: a.sheet.clone(),
            delimiter: a.delimiter,
            encoding: a.encoding.clone(),
            header_row: a.header_row,
        },
        map: a.map.clone(),
        stages: config.pipeline.stages.clone(),
        day_order: crate::contacts::dates::DayOrder::parse(a.date_format.as_deref().unwrap_or(&config.contacts.date_format))
            .map_err(|e| anyhow::anyhow!("--date-format {e}"))?,
        column_orders: Default::default(),
        consent_given: format!(
            "{today} import {}",
            a.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ),
    };
    let rows = Rows::open(&a.file, &opts)?;
    let store = connect(&config).await?;
    let label = rows.label().to_string();
    if !a.json {
        eprintln!("reading {label}: {}", rows.described());
        let columns: Vec<String> = rows
            .columns()
            .iter()
            .map(|(h, f, how)| match *how {
                "custom" => format!("{h} → {f} (custom)"),
                "fallback" => format!("{h} → {f} (custom; fills in where the first column of its field is empty)"),
                "--map" => format!("{h} → {f} (--map)"),
                _ => format!("{h} → {f}"),
            })
            .collect();
        eprintln!("columns: {}", columns.join(", "));
    }
    let progress = super::progress::Rows::start(!a.json, "rows");
    if a.assign && config.assign.default.is_none() && config.assign.sources.is_empty() {
        anyhow::bail!(
            "--assign: no [assign] rules in {}: add `[assign] default = {{ agents = [\"sara\"], plan = \"8x8\" }}`",
            config.source
        );
    }
    let rules = crate::intake::Rules {
        assign: a.assign.then_some(&config.assign),
        fill_only: false,
    };
    let mut intake = Intake::new(&store, config.pepper(), &label, today, a.dry_run).with_rules(rules);
    // A chunk at a time, read ahead on another thread: constant memory whatever the file size.
    let (mut chunks, reader) = rows.read_ahead(CHUNK);
    let mut cell_warnings: Vec<String> = Vec::new();
    let mut cell_warnings_more = 0u64;
    while let Some(chunk) = chunks.recv().await {
        for problems in chunk.rejected {
            intake.report.reject(problems);
        }
        for w in chunk.warnings {
            if cell_warnings.len() < 1000 {
                cell_warnings.push(w);
            } else {
                cell_warnings_more += 1;
            }
        }
        if !chunk.rows.is_empty() {
            intake.upsert(chunk.rows).await?;
        }
        progress.set(chunk.rows_read);
    }
    intake.finish().await?;
    let rows = reader.await?;
    progress.finish();
    let mut warnings = rows.warnings();
    if rows.rows_read() == 0 {
        warnings
            .push("the header row is there, but no contact rows follow it: nothing to import (the wrong sheet or an empty export?)".into());
    }
    let report = intake.report;
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["file"] = a.file.display().to_string().into();
        v["dry_run"] = a.dry_run.into();
        v["read_as"] = rows.described().into();
        v["columns"] = rows
            .columns()
            .iter()
            .map(|(h, f, _)| (h.clone(), serde_json::Value::from(f.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into();
        v["warnings"] = warnings.into();
        v["cells_left_out"] = (cell_warnings.len() as u64 + cell_warnings_more).into();
        v["cell_warnings"] = cell_warnings.into();
        print_json(&v)?;
    } else {
        for r in &report.rejected {
            eprintln!("{r}");
        }
        for n in &report.notes {
            eprintln!("{n}");
        }
        if report.notes_more > 0 {
            eprintln!("... and {} more notes", report.notes_more);
        }
        for w in &warnings {
            eprintln!("{label}: warning: {w}");
        }
        const SHOWN: usize = 20;
        for w in cell_warnings.iter().take(SHOWN) {
            eprintln!("{w}");
        }
        let more = cell_warnings.len().saturating_sub(SHOWN) as u64 + cell_warnings_more;
        if more > 0 {
            eprintln!("... and {more} more cells left out (`--json` lists the first 1,000)");
        }
        let verb = if a.dry_run { "would import" } else { "imported" };
        outln!(
            "{verb} {label}: {} new, {} updated, {} unchanged, {} rejected; {} on the suppression list (they stay suppressed)",
            report.created,
            report.updated,
            report.unchanged,
            report.rejected_rows,
            report.suppressed
        );
        if report.matched_by_address > 0 {
            outln!(
                "{} row(s) found their contact by email or phone under another id (one person, one contact)",
                report.matched_by_address
            );
        }
        if report.duplicates > 0 {
            outln!("{} row(s) repeat an earlier row of the same contact: merged", report.duplicates);
        }
        if report.phones_without_consent > 0 && config.sms.require_consent {
            outln!(
                "{} row(s) have a phone but no SMS consent in this file: they get no texts unless their contact already has one \
                 (a consent column such as `sms_consent` or `SMS OK`: a date, or yes)",
                report.phones_without_consent
            );
        }
    }
    Ok(if report.rejected_rows == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
