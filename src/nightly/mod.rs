//! One run date: load → expand → enqueue / agenda / plan changes → agents' agenda emails →
//! deliver until drained → record. Sequencing only. Idempotent per date: jobs carry their
//! delivery key as idempotency key, the ledger refuses a second send, and agenda items,
//! skipped and paused touches are marked once.

mod agenda_mail;
mod delivery;
mod page;

use crate::deliver::Counters;
use crate::plans::expand::{Calendar, Window};
use crate::queue::{Queue, inspect};
use crate::report::customers::Class;
use crate::store::{Store, StoreError};
use crate::workspace::Workspace;
use chrono::NaiveDate;
use delivery::Delivery;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Flags of `nurture run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run date.
    pub date: NaiveDate,
    /// Queue only; leave delivery to `nurture work`.
    pub enqueue_only: bool,
    /// Report what would be queued; write and send nothing.
    pub dry_run: bool,
    /// Jobs delivered at once, over all lanes.
    pub concurrency: usize,
    /// Delivery lanes (`None`: `[delivery] threads`; 0 = one per core).
    pub threads: Option<usize>,
    /// "Now" for send-time rules (quiet hours); `--now` fixes it.
    pub clock: crate::clock::Clock,
    /// The delivery counters, shared so that a caller can show progress while the run goes.
    pub counters: Arc<Counters>,
}

/// The run summary (`run --json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Run date.
    pub date: String,
    /// Touches due (email, SMS and manual) in the window.
    pub due: u64,
    /// Jobs newly queued.
    pub queued: u64,
    /// Due jobs that were already queued by an earlier run.
    pub already_queued: u64,
    /// Sent by this process.
    pub sent: u64,
    /// Stopped by the suppression list.
    pub suppressed: u64,
    /// Jobs still scheduled for later at the end (retries, deferrals).
    pub deferred: u64,
    /// Refused for good (bounces, render or compliance failures).
    pub failed: u64,
    /// Dead letters created by this run.
    pub dead: u64,
    /// Agenda items for people (calls, cards, letters, gifts).
    pub agenda: u64,
    /// Touches that fell due before the grace window: never sent.
    pub missed: u64,
    /// Email / SMS touches skipped because the contact has no address for that channel.
    pub skipped: u64,
    /// Contacts that changed plans (finished one, demoted for not responding, or outside a
    /// plan's `[segment]`).
    pub moved: u64,
    /// Contacts outside their plan's `[segment]` (with no `otherwise` that takes them): no touches.
    pub out_of_segment: u64,
    /// Of those, moved by `[demote]` (no response after N touches).
    pub demoted: u64,
    /// Automated touches not sent because the contact responded (`pause_on_response`).
    pub paused: u64,
    /// Jobs queued for a later send time (`at`): the queue holds them until then.
    pub scheduled: u64,
    /// Agents whose agenda was emailed (`[agenda] email_to`).
    pub agenda_mailed: u64,
    /// Contacts examined.
    pub contacts: u64,
    /// Second copies of a job found already done (no second send).
    pub duplicates: u64,
    /// SMS moved to the next open slot by quiet hours (by this process).
    pub quiet_deferred: u64,
    /// SMS not sent for lack of recorded consent.
    pub no_consent: u64,
    /// Transient failures re-queued by this process.
    pub retried: u64,
    /// Attempts refused by the relay or SMS provider (sender, content, auth): kept queued.
    pub relay_refused: u64,
    /// Messages whose reply was lost after the data: held as `unknown` (see `nurture dead`).
    pub unknown: u64,
    /// Jobs ready but not sent when the run ended (the breaker stopped it).
    pub waiting: u64,
    /// Messages held with an unknown outcome, this run's and earlier ones' (they may or may
    /// not have been delivered): each needs `nurture dead retry` or `dead drop`; `run` exits 4
    /// while any are held.
    pub held: u64,
    /// Why delivery stopped early (the relay's own reply), if it did; the run then exits 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// A relay still unreachable when the run ended (`email relay unreachable since ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
    /// Senders not healthy at the end: `email: down since ...: reason`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<String>,
    /// Ledger marks and idempotency keys older than `retention_days`, and metadata of
    /// workers long gone, removed at the end of the run.
    pub vacuumed_marks: u64,
    /// Finished queue jobs older than `keep_done_hours` removed at the end of the run.
    pub vacuumed_jobs: u64,
    /// Seconds the removal took.
    pub vacuum_secs: f64,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// Seconds spent expanding and enqueueing.
    pub expand_secs: f64,
    /// Seconds spent delivering.
    pub deliver_secs: f64,
    /// With `--dry-run`: the jobs that would be queued (first 1,000).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_queue: Vec<String>,
}

/// Contacts read per page.
const PAGE: usize = 5000;

/// Pages being written at once (the encoding of one overlaps Redis working on the other).
const WRITES_IN_FLIGHT: usize = 3;

/// Runs one date.
pub async fn run(ws: Arc<Workspace>, store: Store, queue: Queue, worker: String, opts: RunOptions) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let date = opts.date.to_string();
    let kept = i64::from(ws.config.delivery.retention_days) - i64::from(ws.config.delivery.grace_days) - 2;
    let today = opts.clock.today(ws.config.sender_tz());
    if (today - opts.date).num_days() > kept {
        anyhow::bail!(
            "--date {date} is more than {kept} days before today ({today}): the ledger of that window is no longer kept \
             ([delivery] retention_days), so a run could send it again; nothing was done"
        );
    }
    let last_run = store.last_run().await?.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let window = Window {
        date: opts.date,
        grace_days: ws.config.delivery.grace_days,
        last_run,
    };
    let mut s = RunSummary {
        date: date.clone(),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let pages = page::Pages {
        ws: &ws,
        opts: &opts,
        window: &window,
        calendar: Calendar::new(&ws.plans, &window).with_classes(classes(&ws, &store, opts.date).await?),
        sender_tz: ws.config.sender_tz(),
    };
    // The clean-up SCANs the whole keyspace: it runs beside the expansion and delivery
    // (which touch only recent keys) instead of after them.
    let vacuum = (!opts.dry_run).then(|| tokio::spawn(vacuum(ws.clone(), store.clone(), queue.clone(), opts.date)));
    // The lanes send what is queued (an earlier run's jobs, then this night's) while the night
    // is expanded; they drain once it is all queued.
    let delivery = (!opts.dry_run && !opts.enqueue_only).then(|| Delivery::start(&ws, &queue, worker, &opts));
    let queueing = async {
        expand(&pages, &store, &queue, &mut s).await?;
        if let Some(d) = &delivery {
            d.queued();
        }
        s.expand_secs = started.elapsed().as_secs_f64();
        tracing::info!(date = %date, due = s.due, queued = s.queued, agenda = s.agenda, secs = s.expand_secs, "expanded");
        if !opts.dry_run {
            s.agenda_mailed = agenda_mail::send(&ws, &store, opts.date).await?;
        }
        anyhow::Ok(())
    };
    let queued = match &delivery {
        Some(d) => tokio::select! {
            queued = queueing => queued,
            _ = d.interrupted() => Err(anyhow::anyhow!(
                "interrupted while queueing the night: what was queued stays queued; the next `nurture run` queues the rest"
            )),
        },
        None => queueing.await,
    };
    if let Err(e) = queued {
        if let Some(d) = delivery {
            d.abandon().await;
        }
        return Err(e);
    }
    if opts.dry_run {
        return Ok(s);
    }
    if let Some(d) = delivery {
        d.finish(&ws, &store, &queue, &mut s).await?;
    }
    if let Some(vacuum) = vacuum {
        let removed = vacuum.await??;
        (s.vacuumed_jobs, s.vacuumed_marks, s.vacuum_secs) = (removed.jobs, removed.marks, removed.secs);
    }
    let backlog = inspect::backlog(&queue).await?;
    s.held = crate::queue::dead::held(&queue).await?;
    s.deferred = backlog.scheduled;
    s.waiting = backlog.waiting + backlog.due + backlog.parked;
    s.health = store
        .health()
        .await?
        .into_iter()
        .filter(|(_, h)| h.state != "ok")
        .map(|(channel, h)| format!("{channel}: {} since {}: {}", h.state, h.since, h.error))
        .collect();
    store.record_run(&date, &serde_json::to_string(&s)?).await?;
    Ok(s)
}

/// Reads, expands and writes every contact's night, stages at once: Redis reads page N+3, a
/// thread decodes page N+2, this task expands page N+1 while pages N and N-1 are written
/// (pages hold different contacts; every write is idempotent or a compare-and-set).
async fn expand(pages: &page::Pages<'_>, store: &Store, queue: &Queue, s: &mut RunSummary) -> anyhow::Result<()> {
    let mut fetching = Some(tokio::spawn(fetch(store.clone(), 0)));
    let mut decoding: Option<tokio::task::JoinHandle<Result<page::Page, StoreError>>> = None;
    let mut writing: std::collections::VecDeque<tokio::task::JoinHandle<anyhow::Result<page::Written>>> = Default::default();
    loop {
        let fetched = match fetching.take() {
            Some(task) => Some(task.await??),
            None => None,
        };
        let decoded = decoding.take();
        if let Some((next, raws)) = fetched {
            if next != 0 {
                fetching = Some(tokio::spawn(fetch(store.clone(), next)));
            }
            let decoder = store.clone();
            decoding = Some(tokio::task::spawn_blocking(move || {
                let contacts = decoder.decode_contacts(&raws)?;
                Ok(contacts.into_iter().zip(raws).collect())
            }));
        }
        let Some(contacts) = decoded else {
            if decoding.is_none() {
                break;
            }
            continue;
        };
        if let Some(writes) = pages.expand(contacts.await??, s) {
            if writing.len() == WRITES_IN_FLIGHT
                && let Some(oldest) = writing.pop_front()
            {
                oldest.await??.add_to(s);
            }
            writing.push_back(tokio::spawn(writes.write(store.clone(), queue.clone())));
        }
    }
    for pending in writing {
        pending.await??.add_to(s);
    }
    Ok(())
}

/// What `run` says of the channels the breaker stopped (exit 3), one clause each.
fn stopped(trips: &[crate::send::breaker::Trip]) -> Option<String> {
    let clauses: Vec<String> = trips
        .iter()
        .map(|t| {
            format!(
                "{} sending stopped: the {} refuses us ({})",
                t.channel,
                sender_name(&t.channel),
                t.reply
            )
        })
        .collect();
    (!clauses.is_empty()).then(|| clauses.join("; "))
}

/// How `run` names a channel's sender.
fn sender_name(channel: &str) -> &'static str {
    if channel == "sms" { "SMS provider" } else { "relay" }
}

async fn fetch(store: Store, cursor: u64) -> Result<(u64, Vec<String>), StoreError> {
    store.scan_contacts_raw(cursor, PAGE).await
}

/// What the clean-up removed.
struct Vacuumed {
    jobs: u64,
    marks: u64,
    secs: f64,
}

/// Removes finished queue jobs older than `keep_done_hours`, and — in the first run of a
/// date to get there, since the horizon moves once a date — a night's share of the ledger
/// marks and queue keys older than `retention_days` ([`crate::queue::vacuum::sweep`]).
async fn vacuum(ws: Arc<Workspace>, store: Store, queue: Queue, date: NaiveDate) -> anyhow::Result<Vacuumed> {
    let t = Instant::now();
    let d = &ws.config.delivery;
    let done_cutoff = crate::clock::Clock::unix_now() - (d.keep_done_hours * 3600) as i64;
    let jobs = crate::queue::vacuum::done_before(&queue, done_cutoff).await?;
    let lock = store.keys.vacuum_lock(&date.to_string());
    let mut marks = 0;
    if store.try_lock(&lock, 23 * 3600).await? {
        let horizon = date - chrono::Duration::days(i64::from(d.retention_days));
        match crate::queue::vacuum::sweep(&queue, horizon).await {
            Ok(n) => marks = n,
            Err(e) => {
                store.unlock(&lock).await?;
                return Err(e.into());
            }
        }
    }
    Ok(Vacuumed {
        jobs,
        marks,
        secs: t.elapsed().as_secs_f64(),
    })
}

/// The customers' classes as of `date` when a plan has a `[segment]` (else none: not read).
pub async fn classes(ws: &Workspace, store: &Store, date: NaiveDate) -> Result<HashMap<String, Class>, StoreError> {
    if ws.plans.values().all(|p| p.segment.is_none()) {
        return Ok(HashMap::new());
    }
    let customers = crate::report::customers::customers(&store.deals().await?, date, ws.config.report.abc);
    Ok(crate::report::customers::classes(&customers))
}
