//! `nurture record response|deal CONTACT ...`, `nurture record cost SOURCE ...` and `nurture
//! contact show|move|status CONTACT ...`: what a contact did, what a lead source cost, and
//! what happened to a contact.

use super::{clock_and_date, connect, load_workspace, print_json};
use crate::config::Config;
use crate::events::{self, ContactEvent, Kind};
use crate::history::Event;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `record` flags.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// What to record.
    #[command(subcommand)]
    pub what: RecordWhat,
}

/// What `record` records.
#[derive(Debug, Subcommand)]
pub enum RecordWhat {
    /// The contact answered (a reply, a call back, a visit): pauses plans with
    /// `pause_on_response` and keeps them from being demoted.
    Response {
        /// Contact id, email address or phone number.
        contact: String,
        /// How: email, sms, call, web, visit...
        #[arg(long)]
        channel: Option<String>,
        /// What they said.
        #[arg(long)]
        note: Option<String>,
        /// The day (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Marketing spend of a lead source (for cost per lead, CAC and ROI).
    Cost {
        /// The lead source (the contacts' `source`: `zillow`, `open-house`, ...).
        source: String,
        /// The amount spent (in the sender's currency).
        #[arg(long)]
        amount: f64,
        /// The day it was spent (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// What it was (an invoice, a campaign).
        #[arg(long)]
        note: Option<String>,
    },
    /// A deal closed with the contact.
    Deal {
        /// Contact id, email address or phone number.
        contact: String,
        /// Its value.
        #[arg(long)]
        value: f64,
        /// What it was.
        #[arg(long)]
        note: Option<String>,
        /// The day (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
}

/// `contact` flags.
#[derive(Debug, Args)]
pub struct ContactArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ContactAction,
}

/// `contact` subcommands.
#[derive(Debug, Subcommand)]
pub enum ContactAction {
    /// The contact's fields, plan and history: plan changes, touches sent, skipped,
    /// suppressed, responses.
    Show {
        /// Contact id, email address or phone number.
        contact: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Moves the contact to another plan (recorded in its history).
    Move {
        /// Contact id, email address or phone number.
        contact: String,
        /// The plan to enter.
        #[arg(long)]
        plan: String,
        /// The day it enters the plan (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Why (kept in the history).
        #[arg(long, default_value = "moved by hand")]
        reason: String,
    },
    /// Moves the contact along the pipeline (`[pipeline] stages`); `lost` needs a reason.
    Status {
        /// Contact id, email address or phone number.
        contact: String,
        /// The stage: new, contacted, interested, proposal, signed, client, lost (as configured).
        stage: String,
        /// Why (kept in the history; required for `lost`).
        #[arg(long)]
        reason: Option<String>,
        /// The day it happened (default: today).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
}

pub(super) async fn record(config: Config, a: RecordArgs) -> anyhow::Result<ExitCode> {
    let (_, today) = clock_and_date(&config, None, None);
    let store = connect(&config).await?;
    let event = match a.what {
        RecordWhat::Cost {
            source,
            amount,
            date,
            note,
        } => {
            let day = date.unwrap_or(today);
            let cost = crate::store::Cost {
                source: source.trim().to_string(),
                date: day,
                amount,
                note: note.unwrap_or_default(),
            };
            if cost.source.is_empty() || !amount.is_finite() || amount <= 0.0 {
                anyhow::bail!("record cost needs a source and an amount above 0 (got {source:?}, {amount})");
            }
            let month = store.record_cost(&cost).await?;
            outln!(
                "recorded a cost of {amount} for {} on {day}; {} in {} so far: {month}",
                cost.source,
                cost.source,
                day.format("%Y-%m")
            );
            return Ok(ExitCode::SUCCESS);
        }
        RecordWhat::Response {
            contact,
            channel,
            note,
            date,
        } => ContactEvent {
            kind: Kind::Response,
            contact,
            channel,
            note,
            date,
        },
        RecordWhat::Deal {
            contact,
            value,
            note,
            date,
        } => ContactEvent {
            kind: Kind::Deal { value },
            contact,
            channel: None,
            note,
            date,
        },
    };
    let pipeline = crate::contacts::pipeline::Pipeline::new(&config.pipeline.stages);
    let c = events::record(&store, &event, today, &config.contacts.default_region, &pipeline).await?;
    let what = match &event.kind {
        Kind::Response => "response".to_string(),
        Kind::Deal { value } => format!("deal of {value}"),
        Kind::Stage { .. } => "stage".to_string(),
    };
    outln!("recorded {what} for {} on {}", c.id, event.date.unwrap_or(today));
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn contact(config: Config, a: ContactArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let region = config.contacts.default_region.clone();
    match a.action {
        ContactAction::Show { contact, json } => {
            let c = store
                .lookup(&contact, &region)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no contact {contact:?}"))?;
            let history = store.history(&c.id.0).await?;
            if json {
                let stage = crate::contacts::pipeline::Pipeline::stage_of(&c);
                print_json(&serde_json::json!({ "contact": c, "stage": stage, "history": history }))?;
                return Ok(ExitCode::SUCCESS);
            }
            // What people typed (a lead's message, a name) is shown, never obeyed: a terminal
            // escape in it is printed as `\u{1b}`.
            let shown = |s: &str| -> String {
                s.chars()
                    .flat_map(|ch| match ch.is_control() {
                        true => ch.escape_unicode().collect::<Vec<_>>(),
                        false => vec![ch],
                    })
                    .collect()
            };
            outln!(
                "{}{}",
                shown(&c.id.0),
                c.display_name().map(|n| format!(" — {}", shown(&n))).unwrap_or_default()
            );
            outln!(
                "plan         {} since {}",
                c.plan().unwrap_or("(none)"),
                c.enrolled_on().map_or("-".into(), |d| d.to_string())
            );
            if !c.plan_history.is_empty() {
                outln!("earlier      {}", c.plan_history.join(" → "));
            }
            outln!("stage        {}", crate::contacts::pipeline::Pipeline::stage_of(&c));
            outln!("responded    {}", c.responded_on.map_or("never".into(), |d| d.to_string()));
            for (k, v) in c
                .fields
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "plan" | "enrolled_on" | "status"))
            {
                outln!("{:<12} {}", shown(k), shown(v));
            }
            outln!("\nhistory ({} events, oldest first):", history.len());
            for e in &history {
                outln!("  {}", shown(&e.line()));
            }
            Ok(ExitCode::SUCCESS)
        }
        ContactAction::Status {
            contact,
            stage,
            reason,
            date,
        } => {
            let (_, today) = clock_and_date(&config, None, None);
            let event = ContactEvent {
                kind: Kind::Stage { stage, reason },
                contact,
                channel: None,
                note: None,
                date,
            };
            let pipeline = crate::contacts::pipeline::Pipeline::new(&config.pipeline.stages);
            let c = events::record(&store, &event, today, &region, &pipeline).await?;
            outln!(
                "{} is now {} (since {})",
                c.id,
                crate::contacts::pipeline::Pipeline::stage_of(&c),
                event.date.unwrap_or(today)
            );
            Ok(ExitCode::SUCCESS)
        }
        ContactAction::Move {
            contact,
            plan,
            date,
            reason,
        } => {
            let ws = load_workspace(config, Some(&store)).await?;
            if !ws.plans.contains_key(&plan) {
                anyhow::bail!("no plan {plan:?} in {}", ws.config.paths.jobs.display());
            }
            let mut c = store
                .lookup(&contact, &region)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no contact {contact:?}"))?;
            let day = date.unwrap_or_else(|| clock_and_date(&ws.config, None, None).1);
            let mut from = String::new();
            let written = store
                .update_contacts(std::slice::from_ref(&c.id.0), |_, stored| {
                    let mut c = stored?;
                    from = c.plan().unwrap_or("(none)").to_string();
                    c.enroll(&plan, day);
                    Some(c)
                })
                .await?;
            c = written
                .into_iter()
                .next()
                .ok_or_else(|| anyhow::anyhow!("no contact {contact:?}"))?;
            let mut event = Event::new(day.to_string(), "moved", format!("from {from}: {reason}"));
            event.plan = Some(plan.clone());
            store.push_history(&[(c.id.0.clone(), event)]).await?;
            outln!("{} moves from {from} to {plan} on {day}", c.id);
            Ok(ExitCode::SUCCESS)
        }
    }
}
