//! `nurture agenda [--date D] [--agent NAME] [--channel C] [--format md|csv|json|xlsx]
//! [--out FILE]` — the agent's day, at most `[agenda] max_calls_per_day` calls each — and
//! `nurture agenda done CODE... | --all-shown [--agent NAME]`, which closes items (open items
//! roll over until then; `--all-shown` closes what the last agenda shown listed), and `agenda
//! answered|no-answer|not-interested CODE...`: the actions of the agenda email's links.

use super::{clock_and_date, connect, load_workspace, print_json};
use crate::agenda::act::{Acting, Outcome};
use crate::agenda::links::Action;
use crate::agenda::{self, AgendaItem};
use crate::config::Config;
use crate::plans::expand::{Calendar, Window, expand};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use futures::TryStreamExt;
use std::collections::HashSet;
use std::process::ExitCode;

/// Agenda output formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// Markdown checklist.
    Md,
    /// CSV with a header.
    Csv,
    /// JSON array.
    Json,
    /// An Excel workbook (needs `--out`): mail-merge labels for cards.
    Xlsx,
}

/// `agenda` flags.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgendaArgs {
    /// Mark items done.
    #[command(subcommand)]
    pub action: Option<AgendaAction>,
    /// Date (default: today in the sender's timezone): items due on or before it.
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Only this agent's contacts (the `agent` column; any case).
    #[arg(long)]
    pub agent: Option<String>,
    /// Only this kind of item: call, card, letter or gift.
    #[arg(long)]
    pub channel: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// The file to write (default: stdout; `xlsx` needs a file).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// CSV for Excel: start it with a UTF-8 byte order mark.
    #[arg(long)]
    pub bom: bool,
}

/// `agenda` subcommands.
#[derive(Debug, Subcommand)]
pub enum AgendaAction {
    /// Mark items done (by the code shown in the agenda, or the full id).
    Done {
        /// Item codes.
        #[arg(required_unless_present = "all_shown")]
        items: Vec<String>,
        /// Every item the last agenda shown (to `--agent`, by the command or the nightly email)
        /// listed; items done since are skipped.
        #[arg(long)]
        all_shown: bool,
        /// With `--all-shown`: the agenda shown to this agent (default: the one of every agent).
        #[arg(long, requires = "all_shown")]
        agent: Option<String>,
        /// What happened (kept in the contact's history).
        #[arg(long)]
        note: Option<String>,
    },
    /// The contact answered: close the items and record a response.
    Answered(Marked),
    /// Nobody answered: note it in the history; the items stay open and roll over.
    NoAnswer(Marked),
    /// The contact is not interested: close the items, move the contact to `lost`.
    NotInterested(Marked),
}

/// The items an action names, and what happened.
#[derive(Debug, Args)]
pub struct Marked {
    /// Item codes (as the agenda shows them) or full ids.
    #[arg(required = true)]
    pub items: Vec<String>,
    /// What happened (kept in the contact's history).
    #[arg(long)]
    pub note: Option<String>,
}

pub(super) async fn agenda(config: Config, a: AgendaArgs) -> anyhow::Result<ExitCode> {
    let (clock, date) = clock_and_date(&config, a.date, None);
    let store = connect(&config).await?;
    let ws = load_workspace(config, Some(&store)).await?;
    let mut open = store.open_agenda().await?;
    if let Some(action) = a.action {
        let acting = Acting::new(&store, &ws.config, &clock, date);
        let (action, codes, shown, note) = match action {
            AgendaAction::Done {
                items,
                all_shown,
                agent,
                note,
            } => {
                let shown = if all_shown {
                    store.shown(&agenda::viewer(agent.as_deref())).await?
                } else {
                    Vec::new()
                };
                (Action::Done, items, shown, note)
            }
            AgendaAction::Answered(m) => (Action::Answered, m.items, Vec::new(), m.note),
            AgendaAction::NoAnswer(m) => (Action::NoAnswer, m.items, Vec::new(), m.note),
            AgendaAction::NotInterested(m) => (Action::NotInterested, m.items, Vec::new(), m.note),
        };
        return mark(&acting, &open, &codes, &shown, action, note.as_deref()).await;
    }
    if store.run_summary(&date.to_string()).await?.is_none() {
        // No run yet for this date: add what its run will put on the agenda.
        let known: HashSet<String> = open
            .iter()
            .map(|i| i.id.clone())
            .chain(store.done_agenda().await?.into_iter().map(|i| i.id))
            .collect();
        let window = Window {
            date,
            grace_days: 0,
            last_run: None,
        };
        let classes = crate::nightly::classes(&ws, &store, date).await?;
        let calendar = Calendar::new(&ws.plans, &window).with_classes(classes);
        let mut pages = std::pin::pin!(store.contact_pages(2000));
        while let Some(page) = pages.try_next().await? {
            for c in &page {
                let e = expand(c, &ws.plans, &window, &calendar);
                for t in e.due.iter().filter(|t| t.channel.is_manual()).chain(e.follow_up.iter()) {
                    if !known.contains(&t.key()) {
                        open.push(AgendaItem::new(t, c));
                    }
                }
            }
        }
    }
    let items = agenda::due(open, date);
    let standings = store.agenda_standings(&items).await?;
    let mut items = agenda::rank(items, date, &standings);
    if let Some(agent) = &a.agent {
        agenda::of_agent(&mut items, agent);
    }
    let held = agenda::cap_calls(&mut items, ws.config.agenda.max_calls_per_day);
    if let Some(channel) = &a.channel {
        items.retain(|i| i.channel.eq_ignore_ascii_case(channel));
    }
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    store.remember_shown(&agenda::viewer(a.agent.as_deref()), &ids).await?;
    match a.format {
        Format::Md => {
            out!("{}", agenda::to_markdown(date, &items));
            if held > 0 {
                outln!(
                    "{held} more call(s) wait for the next days ([agenda] max_calls_per_day = {})",
                    ws.config.agenda.max_calls_per_day
                );
            }
        }
        Format::Csv | Format::Xlsx => {
            let out = super::table_out::Out {
                xlsx: matches!(a.format, Format::Xlsx),
                path: a.out.as_deref(),
                bom: a.bom,
                sheet: "Agenda",
            };
            super::table_out::write(&agenda::to_rows(&items), out)?;
        }
        Format::Json => print_json(&items)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Does `action` to the open items named by `codes` and (for `done --all-shown`) those of
/// `shown` still open; a code that names no open item, or several, is an error (the others are
/// still marked).
async fn mark(
    acting: &Acting<'_>,
    open: &[AgendaItem],
    codes: &[String],
    shown: &[String],
    action: Action,
    note: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let mut missing = 0;
    let mut chosen: Vec<&AgendaItem> = Vec::new();
    for code in codes {
        let named: Vec<&AgendaItem> = open.iter().filter(|i| i.is_named(code)).collect();
        match named[..] {
            [item] => chosen.push(item),
            [] => {
                eprintln!("no open agenda item {code:?}");
                missing += 1;
            }
            _ => {
                // A code printed before a later item shared its six characters.
                let which: Vec<String> = named.iter().map(|i| format!("{} ({}, {})", i.short, i.name, i.touch)).collect();
                eprintln!(
                    "{code:?} names {} open items: {}; use the longer code",
                    named.len(),
                    which.join(", ")
                );
                missing += 1;
            }
        }
    }
    let shown: HashSet<&str> = shown.iter().map(String::as_str).collect();
    let still_open = open.iter().filter(|i| shown.contains(i.id.as_str()));
    chosen.extend(still_open);
    chosen.sort_by(|a, b| a.id.cmp(&b.id));
    chosen.dedup_by(|a, b| a.id == b.id);
    let gone = shown
        .len()
        .saturating_sub(chosen.iter().filter(|i| shown.contains(i.id.as_str())).count());
    for item in chosen {
        let said = match acting.act(item, action, note).await? {
            Outcome::Closed => action.slug(),
            Outcome::NotedNoAnswer => "no answer (stays open)",
            Outcome::NotOpen => continue,
        };
        outln!(
            "{said}: {} {} {} ({} / {})",
            item.short,
            item.channel,
            item.name,
            item.plan,
            item.touch
        );
    }
    if gone > 0 {
        outln!("{gone} shown item(s) were no longer open (done since, or not yet opened by the date's run)");
    }
    Ok(if missing == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
