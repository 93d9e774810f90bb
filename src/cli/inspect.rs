//! `lint`, `preview` and `status`: commands that look and change nothing.

use super::{check_workspace, clock_and_date, connect, print_json, queue};
use crate::config::Config;
use crate::contacts::census::CensusMode;
use crate::preview::{self, Preview};
use crate::queue::inspect;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use std::process::ExitCode;

/// `lint` flags.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Print diagnostics as JSON (for editors and CI).
    #[arg(long)]
    pub json: bool,
    /// Do not read the stored contacts (no Redis needed; custom fields are not counted).
    #[arg(long)]
    pub offline: bool,
}

/// `preview` flags.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Template name, e.g. `8x8/welcome` (the locale variant is picked for the contact).
    pub template: String,
    /// Render for this stored contact (default: a sample contact).
    #[arg(long, conflicts_with = "sample")]
    pub contact: Option<String>,
    /// Render for a sample contact with every known column filled (the default).
    #[arg(long)]
    pub sample: bool,
    /// The sample contact's locale: `ar` renders the Arabic variant for an Arabic name.
    #[arg(long, default_value = "en", conflicts_with = "contact")]
    pub locale: String,
    /// The day to render for (`{{today}}`; default: today in the sender's timezone).
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// What to print for an email: a readable summary (default), the raw `eml` exactly as it
    /// would be sent, only the `html` part, or only the `text` part.
    #[arg(long, value_enum, default_value = "summary")]
    pub format: PreviewFormat,
}

/// `preview --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreviewFormat {
    /// Headers, decoded subject, text part and HTML part.
    Summary,
    /// The RFC 5322 message as sent.
    Eml,
    /// The HTML part.
    Html,
    /// The plain-text part.
    Text,
}

/// `status` flags.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Judge the 7-day bounce and complaint window as of this time (RFC 3339; default now).
    #[arg(long)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
}

pub(super) async fn lint(config: Config, a: LintArgs) -> anyhow::Result<ExitCode> {
    let store = if a.offline {
        None
    } else {
        match connect(&config).await {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("note: contacts not checked ({e:#}); `--offline` skips them");
                None
            }
        }
    };
    let mut ws = check_workspace(config, store.as_ref(), CensusMode::Count).await?;
    if let Some(store) = &store {
        for w in store.redis_warnings().await {
            eprintln!("warning: {w}");
        }
    }
    ws.diagnostics
        .sort_by(|x, y| (&x.file, x.line, x.col).cmp(&(&y.file, y.line, y.col)));
    if a.json {
        print_json(&ws.diagnostics)?;
    } else {
        for d in &ws.diagnostics {
            outln!("{}\n", d.render());
        }
        let errors = ws.errors().count();
        let warnings = ws.diagnostics.len() - errors;
        eprintln!(
            "{} plan(s), {} template(s): {errors} error(s), {warnings} warning(s)",
            ws.plans.len(),
            ws.catalog.names().len()
        );
    }
    Ok(if ws.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub(super) async fn preview(config: Config, a: PreviewArgs) -> anyhow::Result<ExitCode> {
    let (ws, contact) = super::workspace_and_contact(config, a.contact.as_deref(), &a.locale).await?;
    let today = a.date.unwrap_or_else(|| clock_and_date(&ws.config, None, None).1);
    match preview::render(&ws, &contact, &a.template, today)? {
        Preview::Email(e) => {
            let m = &e.message;
            match a.format {
                PreviewFormat::Eml => out!("{}", e.eml),
                PreviewFormat::Html => outln!("{}", m.html),
                PreviewFormat::Text => outln!("{}", m.text),
                PreviewFormat::Summary => {
                    for (k, v) in &e.headers {
                        outln!("{k}: {v}");
                    }
                    outln!(
                        "\nSubject (decoded): {}\nTemplate: {}\n\n--- text/plain ---\n{}\n--- text/html ---\n{}",
                        m.subject,
                        m.template,
                        m.text,
                        m.html
                    );
                }
            }
        }
        Preview::Sms(s) => {
            outln!(
                "To: {}\nTemplate: {}\nEncoding: {}\nCharacters: {}\nSegments: {}\n\n{}",
                s.to.as_deref().unwrap_or("(no phone)"),
                s.message.template,
                s.segments.encoding,
                s.segments.units,
                s.segments.parts,
                s.message.body
            );
            if s.parts.len() > 1 {
                for (i, part) in s.parts.iter().enumerate() {
                    outln!("\n--- part {}/{} ---\n{part}", i + 1, s.parts.len());
                }
            }
            if let Some(why) = &s.not_sent {
                eprintln!("note: {why}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn status(config: Config, a: StatusArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let q = queue(&config, &store);
    let backlog = inspect::backlog(&q).await?;
    let dead = crate::queue::dead::list(&q, if a.json { 1000 } else { 20 }).await?;
    let held = crate::queue::dead::held(&q).await?;
    let health: serde_json::Map<String, serde_json::Value> = store
        .health()
        .await?
        .into_iter()
        .map(|(c, h)| (c, serde_json::to_value(h).unwrap_or_default()))
        .collect();
    let last_run = store.last_run().await?;
    let last_summary: Option<serde_json::Value> = match &last_run {
        Some(d) => store.run_summary(d).await?.and_then(|s| serde_json::from_str(&s).ok()),
        None => None,
    };
    let stats: serde_json::Map<String, serde_json::Value> = match &last_run {
        Some(d) => store
            .stats(d)
            .await?
            .into_iter()
            .map(|(k, v)| {
                // Counters are whole; the total of deal values need not be.
                let n = if v.fract() == 0.0 && v >= 0.0 {
                    (v as u64).into()
                } else {
                    v.into()
                };
                (k, n)
            })
            .collect(),
        None => Default::default(),
    };
    let failures: Vec<serde_json::Value> = store
        .failures(20)
        .await?
        .iter()
        .filter_map(|f| serde_json::from_str(f).ok())
        .collect();
    let redis_warnings = store.redis_warnings().await;
    let today = a
        .now
        .map(crate::clock::Clock::starting_at)
        .unwrap_or(crate::clock::Clock::System)
        .today(config.sender_tz());
    let (rates, guard) = crate::inbound::guard::check(&store, &config.inbound, today).await?;
    let messages_a_night = ["sent", "suppressed", "failed"]
        .iter()
        .filter_map(|k| stats.get(*k).and_then(serde_json::Value::as_u64))
        .sum::<u64>();
    let d = &config.delivery;
    let memory = crate::store::sizing::Sizing {
        used_bytes: store.used_memory().await?,
        messages_a_night,
        projected_bytes: crate::store::sizing::projected(
            messages_a_night,
            u64::from(d.retention_days),
            d.idempotency_days(),
            u64::from(config.report.keep_days),
        ),
    };
    let report = serde_json::json!({
        "redis_warnings": redis_warnings,
        "contacts": store.contact_count().await?,
        "queue": backlog,
        "suppressed": { "email": store.suppression_count("email").await?, "sms": store.suppression_count("sms").await?},
        "agenda_open": store.open_agenda_count().await?,
        "last_run": last_run,
        "last_run_summary": last_summary,
        "last_run_deliveries": stats,
        "dead_letters": dead,
        "held": held,
        "recent_failures": failures,
        "senders": health,
        "reputation": { "window_days": crate::inbound::guard::WINDOW_DAYS, "rates": rates, "guard": guard },
        "redis_memory": memory,
    });
    if a.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for w in &redis_warnings {
        outln!("warning: {w}");
    }
    outln!("contacts     {}", report["contacts"]);
    outln!(
        "queue        {} waiting, {} in flight, {} scheduled later, {} dead",
        backlog.waiting + backlog.due,
        backlog.in_flight,
        backlog.scheduled,
        backlog.dead
    );
    if held > 0 {
        outln!(
            "             {held} held: sent, but the answer was lost — they may or may not have arrived; decide with `nurture dead retry ID` or `nurture dead drop ID`"
        );
    }
    if backlog.parked > 0 {
        outln!(
            "             {} parked: their channel's sender refused us; the next run, or a running worker within a minute, takes them back",
            backlog.parked
        );
    }
    let human = crate::store::sizing::human;
    outln!(
        "redis        {} used; at {} message(s) a night (the last run) the ledger and keys settle near {} (+ the contacts)",
        human(memory.used_bytes),
        memory.messages_a_night,
        human(memory.projected_bytes)
    );
    outln!(
        "suppressed   {} email, {} sms",
        report["suppressed"]["email"],
        report["suppressed"]["sms"]
    );
    for (channel, h) in &health {
        let state = h["state"].as_str().unwrap_or("");
        let error = h["error"].as_str().map(|e| format!(": {e}")).unwrap_or_default();
        outln!(
            "{:<12} {state} since {}{error}",
            format!("{channel} relay"),
            h["since"].as_str().unwrap_or("")
        );
    }
    let pct = |r: Option<f64>| r.map_or("—".to_string(), |r| format!("{r:.2} %"));
    outln!(
        "reputation   last 7 days: {} emails, bounce rate {} ({}), complaint rate {} ({})",
        rates.emails_sent,
        pct(rates.bounce_rate),
        rates.bounces,
        pct(rates.complaint_rate),
        rates.complaints
    );
    match &guard {
        crate::inbound::guard::Judgement::Ok => {}
        crate::inbound::guard::Judgement::Warn { reason } => outln!("  warning: {reason}"),
        crate::inbound::guard::Judgement::Stop { reason } => outln!("  EMAIL STOPPED: {reason}"),
    }
    outln!("agenda       {} open item(s)", report["agenda_open"]);
    outln!("last run     {}", last_run.as_deref().unwrap_or("never"));
    if !stats.is_empty() {
        let parts: Vec<String> = stats.iter().map(|(k, v)| format!("{v} {k}")).collect();
        outln!("  deliveries {}", parts.join(", "));
    }
    if !dead.is_empty() {
        outln!("dead letters (showing {} of {}):", dead.len(), backlog.dead);
        for d in &dead {
            let key = d.job.as_ref().map(|j| j.key.as_str()).unwrap_or("(undecodable job)");
            outln!("  {} {key}: {}", d.id, d.reason);
        }
    }
    if !failures.is_empty() {
        outln!("recent failures:");
        for f in &failures {
            outln!("  {}: {}", f["key"].as_str().unwrap_or(""), f["error"].as_str().unwrap_or(""));
        }
    }
    Ok(ExitCode::SUCCESS)
}
