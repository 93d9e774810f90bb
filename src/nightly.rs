//! One run date: load → expand → enqueue / agenda → deliver until drained → record.
//! Sequencing only. Idempotent per date: jobs carry their delivery key as idempotency key,
//! and the ledger refuses a second send.

use crate::agenda::AgendaItem;
use crate::contacts::Contact;
use crate::deliver::{Counters, Deliverer, Handler};
use crate::plans::expand::{self, Window};
use crate::queue::{DeliveryJob, JOB_VERSION, Queue, inspect};
use crate::store::Store;
use crate::workspace::Workspace;
use chrono::NaiveDate;
use serde::Serialize;
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
    /// Worker concurrency.
    pub concurrency: usize,
    /// "Now" for send-time rules (quiet hours); `--now` fixes it.
    pub clock: crate::clock::Clock,
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
    /// Contacts that finished their plan and moved on.
    pub moved: u64,
    /// Contacts examined.
    pub contacts: u64,
    /// Second copies of a job found already done (no second send).
    pub duplicates: u64,
    /// SMS moved to the next open slot by quiet hours (by this process).
    pub quiet_deferred: u64,
    /// SMS not sent for lack of recorded consent.
    pub no_consent: u64,
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

/// Runs one date.
pub async fn run(ws: Arc<Workspace>, store: Store, queue: Queue, worker: String, opts: RunOptions) -> anyhow::Result<RunSummary> {
    let started = Instant::now();
    let date = opts.date.to_string();
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
    // Read the next page (Redis + JSON decoding, on another task) while this one is expanded
    // and queued.
    let mut pending = Some(tokio::spawn(scan(store.clone(), 0)));
    while let Some(task) = pending.take() {
        let (next, page) = task.await??;
        if next != 0 {
            pending = Some(tokio::spawn(scan(store.clone(), next)));
        }
        expand_page(&ws, &store, &queue, &opts, &window, page, &mut s).await?;
    }
    s.expand_secs = started.elapsed().as_secs_f64();
    tracing::info!(date = %date, due = s.due, queued = s.queued, agenda = s.agenda, secs = s.expand_secs, "expanded");
    if opts.dry_run {
        return Ok(s);
    }
    if !opts.enqueue_only {
        let t = Instant::now();
        let live = Arc::new(crate::workspace::Live::new(ws.clone()));
        let deliverer = Deliverer::new(live, store.clone(), queue.clone(), worker.clone(), opts.clock).map_err(anyhow::Error::msg)?;
        let counters: Arc<Counters> = deliverer.counters.clone();
        let handler = Arc::new(Handler(Arc::new(deliverer)));
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        queue.work(worker, opts.concurrency, handler, true, stop).await?;
        s.sent = Counters::get(&counters.sent);
        s.suppressed = Counters::get(&counters.suppressed);
        s.failed = Counters::get(&counters.failed);
        s.dead = Counters::get(&counters.dead);
        s.duplicates = Counters::get(&counters.duplicates);
        s.quiet_deferred = Counters::get(&counters.deferred);
        s.no_consent = Counters::get(&counters.no_consent);
        s.deliver_secs = t.elapsed().as_secs_f64();
    }
    s.deferred = inspect::backlog(&queue).await?.scheduled;
    store.record_run(&date, &serde_json::to_string(&s)?).await?;
    Ok(s)
}

async fn scan(store: Store, cursor: u64) -> Result<(u64, Vec<Contact>), crate::store::StoreError> {
    store.scan_contacts(cursor, PAGE).await
}

async fn expand_page(
    ws: &Workspace,
    store: &Store,
    queue: &Queue,
    opts: &RunOptions,
    window: &Window,
    page: Vec<Contact>,
    s: &mut RunSummary,
) -> anyhow::Result<()> {
    let mut jobs = Vec::new();
    let mut agenda: Vec<(String, String)> = Vec::new();
    let mut moved = Vec::new();
    for mut contact in page {
        s.contacts += 1;
        let e = expand::expand(&contact, &ws.plans, window);
        s.missed += e.missed;
        s.due += e.due.len() as u64;
        for t in &e.due {
            if t.channel.is_manual() {
                let item = AgendaItem::new(t, &contact);
                agenda.push((item.id.clone(), serde_json::to_string(&item)?));
            } else if t.channel.address(&contact).is_none() {
                s.skipped += 1;
            } else if let Some(template) = &t.template {
                jobs.push(DeliveryJob {
                    v: JOB_VERSION,
                    key: t.key(),
                    contact_id: t.contact_id.clone(),
                    plan: t.plan.clone(),
                    touch: t.touch.clone(),
                    channel: t.channel,
                    template: template.clone(),
                    due: t.due,
                    run_date: opts.date,
                    attempt: 0,
                    requeue: 0,
                });
            }
        }
        if let Some((plan, day)) = e.moved_to {
            contact.enroll(&plan, day);
            moved.push(contact);
        }
    }
    s.moved += moved.len() as u64;
    if opts.dry_run {
        s.queued += jobs.len() as u64;
        s.agenda += agenda.len() as u64;
        s.would_queue.extend(
            jobs.iter()
                .take(1000usize.saturating_sub(s.would_queue.len()))
                .map(|j| format!("{} {}", j.channel.as_str(), j.key)),
        );
        return Ok(());
    }
    // Queue first, move contacts after: a crash in between re-expands the old plan, and the
    // idempotency keys keep it from being queued twice.
    let added = queue.enqueue(&jobs, None).await?;
    s.queued += added;
    s.already_queued += jobs.len() as u64 - added.min(jobs.len() as u64);
    let date = opts.date.to_string();
    s.agenda += agenda.len() as u64;
    store.add_agenda(&date, &agenda).await?;
    store.put_contacts(&moved).await?;
    Ok(())
}
