//! `nurture report customers [--json|--csv] [--date D]`: every contact with deals, its RFM
//! scores and segment and its ABC class ([`crate::report::customers`]), highest value first.

use super::{clock_and_date, connect, print_json};
use crate::config::Config;
use crate::report::customers;
use crate::report::practice::{By, COLUMNS, cells};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `report` flags.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    /// Another report than the practice's numbers.
    #[command(subcommand)]
    pub which: Option<Which>,
    /// First day (default: 29 days before --to).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: today).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// One row per plan, touch, source or agent.
    #[arg(long, value_enum, default_value = "source")]
    pub by: By,
    /// One JSON object (`rows`, `total`, `days`).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header row (the total row last).
    #[arg(long)]
    pub csv: bool,
    /// Also write the report as one self-contained HTML page (charts included).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// Add the owner's sections to the text and JSON: agents side by side, week by week and
    /// month by month against the span before, the pipeline at the period's end, the
    /// non-responders (the page of `--html` always has them).
    #[arg(long)]
    pub owner: bool,
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
    let Some(Which::Customers { date, json, csv }) = a.which else {
        return practice_report(config, a).await;
    };
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
        super::table_out::write(&table, super::table_out::Out::csv_to_stdout())?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("no deals recorded yet (`nurture record deal CONTACT --value V`)");
        return Ok(ExitCode::SUCCESS);
    }
    out!("{}", super::table_out::text(&table, |c| (1..=3).contains(&c)));
    let count = |c: char| rows.iter().filter(|r| r.abc == c).count();
    outln!(
        "\n{} customers on {today}: {} A, {} B, {} C (shares {:?} % of value)",
        rows.len(),
        count('A'),
        count('B'),
        count('C'),
        config.report.abc
    );
    Ok(ExitCode::SUCCESS)
}

async fn practice_report(config: Config, a: ReportArgs) -> anyhow::Result<ExitCode> {
    let (_, today) = clock_and_date(&config, a.to, None);
    let from = a.from.unwrap_or(crate::report::read::default_from(today));
    if from > today {
        anyhow::bail!("--from {from} is after --to {today}: give a period that starts before it ends");
    }
    let store = connect(&config).await?;
    let p = crate::report::read::practice(&store, a.by, from, today, config.report.relationship_years).await?;
    if let Some(path) = &a.html {
        let page = crate::report::html::for_period(&store, &config, &p).await?;
        crate::private_file::write(path, page.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    // The sender's reputation as the guard sees it: the 7 days ending with the period.
    let (rates, guard) = crate::inbound::guard::check(&store, &config.inbound, today).await?;
    // CSV is the table alone.
    let owner = match a.owner && !a.csv {
        true => Some(crate::report::owner::read(&store, &config, from, today).await?),
        false => None,
    };
    if a.json {
        let mut v = serde_json::to_value(&p)?;
        if let Some(o) = &owner {
            v["owner"] = serde_json::to_value(o)?;
        }
        v["reputation"] =
            serde_json::json!({ "window_days": crate::inbound::guard::WINDOW_DAYS, "to": today, "rates": rates, "guard": guard });
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    if a.csv {
        // For spreadsheets and scripts: the field names of the JSON and plain numbers.
        let mut table = vec![COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
        table[0][0] = a.by.name().to_string();
        table.extend(p.rows.iter().chain([&p.total]).map(|r| cells(r, "")));
        super::table_out::write(&table, super::table_out::Out::csv_to_stdout())?;
        return Ok(ExitCode::SUCCESS);
    }
    // For people: labels in the report's language, separators, currency, percentages.
    let mut table = vec![crate::report::html::column_labels(a.by, config.report.is_arabic())];
    let currency = &config.report_currency();
    table.extend(
        p.rows
            .iter()
            .chain([&p.total])
            .map(|r| crate::report::html::human_cells(r, currency)),
    );
    outln!("{from} to {today}, by {}", a.by.name());
    out!("{}", super::table_out::text(&table, |c| c > 0));
    if p.rows.is_empty() {
        outln!("nothing recorded in this period (`nurture report --from DATE` for an earlier one)");
    }
    if let Some(o) = &owner {
        print_owner(o, currency);
    }
    let pct = |r: Option<f64>| r.map_or("—".to_string(), |r| format!("{r:.2} %"));
    outln!(
        "email reputation, 7 days to {today}: {} emails, bounce rate {}, complaint rate {}{}",
        rates.emails_sent,
        pct(rates.bounce_rate),
        pct(rates.complaint_rate),
        match guard {
            crate::inbound::guard::Judgement::Stop { .. } => " — EMAIL STOPPED (`nurture status`)",
            crate::inbound::guard::Judgement::Warn { .. } => " — over a limit (`nurture status`)",
            crate::inbound::guard::Judgement::Ok => "",
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The owner's sections as text tables.
fn print_owner(o: &crate::report::owner::Owner, currency: &str) {
    use crate::report::format;
    let text = |rows: &[Vec<String>]| super::table_out::text(rows, |c| c > 0);
    let mut agents = vec![
        ["agent", "leads", "reached", "responded", "response rate", "customers", "revenue"]
            .map(String::from)
            .to_vec(),
    ];
    for r in o.agents.rows.iter().chain([&o.agents.total]) {
        agents.push(vec![
            r.group.clone(),
            format::count(r.leads),
            format::count(r.reached),
            format::count(r.responded),
            format::percent(r.response_rate),
            format::count(r.customers),
            format::money(r.revenue, currency),
        ]);
    }
    outln!("\nagents side by side");
    out!("{}", text(&agents));
    for (name, spans) in [("week", &o.trends.weeks), ("month", &o.trends.months)] {
        let mut rows = vec![
            [name, "leads", "reached", "responded", "rate of reached", "customers", "revenue"]
                .map(String::from)
                .to_vec(),
        ];
        for s in spans {
            let (n, b) = (&s.now, &s.before);
            let pair = |now: String, before: String| format!("{now} ({before})");
            rows.push(vec![
                s.label.clone(),
                pair(format::count(n.leads), format::count(b.leads)),
                pair(format::count(n.reached), format::count(b.reached)),
                pair(format::count(n.responded), format::count(b.responded)),
                pair(format::percent(n.rate), format::percent(b.rate)),
                pair(format::count(n.customers), format::count(b.customers)),
                pair(format::money(n.revenue, currency), format::money(b.revenue, currency)),
            ]);
        }
        outln!("\n{name} by {name} (in brackets: the {name} before)");
        out!("{}", text(&rows));
    }
    let st = &o.standing;
    let mut stages = vec![["stage", "at the end", "moves in the period"].map(String::from).to_vec()];
    for (stage, n, moves) in st.rows() {
        stages.push(vec![stage.to_string(), format::count(n), format::count(moves)]);
    }
    outln!("\npipeline");
    out!("{}", text(&stages));
    for (reason, n) in &st.lost_reasons {
        outln!("lost: {reason}: {n}");
    }
    outln!(
        "\nnon-responders: at least {} touches sent, no response by the period's end",
        st.touches
    );
    let mut quiet = vec![["plan", "contacts", "moved to", "stayed"].map(String::from).to_vec()];
    for r in &st.non_responders {
        quiet.push(vec![
            r.plan.clone(),
            format::count(r.contacts),
            r.moved_to_text(),
            format::count(r.stayed()),
        ]);
    }
    out!("{}", text(&quiet));
}
