//! One page of contacts of a run: expand each, then in a few round trips queue the email and
//! SMS jobs (each at its send time), open the agenda items, mark skipped and paused touches,
//! and save the plan changes with their history events.

use super::{RunOptions, RunSummary};
use crate::agenda::AgendaItem;
use crate::contacts::Contact;
use crate::history::Event;
use crate::ledger::{self, Mark};
use crate::plans::expand::{self, Calendar, DueTouch, MoveReason, Window};
use crate::queue::{DeliveryJob, JOB_VERSION, Queue};
use crate::store::Store;
use crate::workspace::Workspace;
use chrono::TimeZone;

/// The plan changes of a page: contact id → (the plan the run saw, the steps: plan and day).
type Moves = std::collections::HashMap<String, (Option<String>, Vec<(String, chrono::NaiveDate)>)>;

/// What every page of one run shares.
pub(super) struct Pages<'a> {
    pub ws: &'a Workspace,
    pub opts: &'a RunOptions,
    pub window: &'a Window,
    pub calendar: Calendar,
    pub sender_tz: chrono_tz::Tz,
}

/// A page of contacts, each with its JSON as stored.
pub(super) type Page = Vec<(Contact, String)>;

/// What one page writes: made by [`Pages::expand`], written by [`Writes::write`] — on a task
/// of its own while the next page is expanded.
pub(super) struct Writes {
    jobs: Vec<(DeliveryJob, Option<i64>)>,
    marks: Vec<Mark>,
    events: Vec<(String, Event)>,
    moved: Moves,
    /// The moved contacts as the page read them (the compare-and-set's starting point).
    read: std::collections::HashMap<String, Option<String>>,
}

/// What the writes of a page found.
pub(super) struct Written {
    queued: u64,
    already_queued: u64,
    agenda: u64,
}

impl Written {
    /// Adds these counts to the run's.
    pub fn add_to(&self, s: &mut RunSummary) {
        s.queued += self.queued;
        s.already_queued += self.already_queued;
        s.agenda += self.agenda;
    }
}

impl Pages<'_> {
    /// Expands one page (each contact with its JSON as stored): counts what it finds and
    /// returns what to write (nothing for a dry run, whose would-be jobs are listed instead).
    pub fn expand(&self, page: Page, s: &mut RunSummary) -> Option<Writes> {
        let now = self.opts.clock.now().timestamp();
        let day = self.opts.date.to_string();
        let mut jobs: Vec<(DeliveryJob, Option<i64>)> = Vec::new();
        let mut marks: Vec<Mark> = Vec::new();
        let mut events: Vec<(String, Event)> = Vec::new();
        let mut moved = Moves::new();
        let mut read = std::collections::HashMap::new();
        for (mut contact, raw) in page {
            s.contacts += 1;
            let e = expand::expand(&contact, &self.ws.plans, self.window, &self.calendar);
            s.missed += e.missed;
            s.out_of_segment += u64::from(e.out_of_segment);
            s.due += e.due.len() as u64;
            for t in &e.due {
                if t.channel.is_manual() {
                    marks.push(agenda_mark(t, &contact, &day));
                } else if t.channel.address(&contact).is_none() {
                    s.skipped += 1;
                    let why = if t.channel == crate::plans::Channel::Email {
                        "no email address"
                    } else {
                        "no phone number"
                    };
                    marks.push(mark(
                        t,
                        format!("skipped:{why}"),
                        Event::touch(&day, "skipped", &t.plan, &t.touch, why),
                    ));
                } else if let Some(template) = &t.template {
                    let run_at = self.send_time(t, &contact, now);
                    s.scheduled += u64::from(run_at.is_some());
                    jobs.push((job(t, template, self.opts.date), run_at));
                }
            }
            for t in &e.paused {
                s.paused += 1;
                let event = Event::touch(&day, "paused", &t.plan, &t.touch, "the contact responded");
                marks.push(mark(t, "paused".into(), event));
            }
            if let Some(f) = &e.follow_up {
                marks.push(agenda_mark(f, &contact, &day));
            }
            let plan_seen = contact.plan().map(str::to_string);
            for m in &e.moves {
                s.demoted += u64::from(matches!(m.reason, MoveReason::NoResponse(_)));
                let mut event = Event::new(m.on.to_string(), "moved", format!("from {}: {}", m.from, m.reason));
                event.plan = Some(m.to.clone());
                events.push((contact.id.0.clone(), event));
                contact.enroll(&m.to, m.on);
            }
            if !e.moves.is_empty() {
                let steps = e.moves.iter().map(|m| (m.to.clone(), m.on)).collect();
                moved.insert(contact.id.0.clone(), (plan_seen, steps));
                read.insert(contact.id.0.clone(), Some(raw));
            }
        }
        s.moved += moved.len() as u64;
        if self.opts.dry_run {
            s.queued += jobs.len() as u64;
            s.agenda += marks.iter().filter(|m| m.agenda_item.is_some()).count() as u64;
            s.would_queue.extend(
                jobs.iter()
                    .take(1000usize.saturating_sub(s.would_queue.len()))
                    .map(|(j, _)| format!("{} {}", j.channel.as_str(), j.key)),
            );
            return None;
        }
        Some(Writes {
            jobs,
            marks,
            events,
            moved,
            read,
        })
    }
}

impl Writes {
    /// Queues the jobs, marks the touches and saves the plan changes.
    pub async fn write(self, store: Store, queue: Queue) -> anyhow::Result<Written> {
        // Queue first, move contacts after: a crash in between re-expands the old plan, and
        // the idempotency keys keep it from being queued twice.
        let added = queue.enqueue_each(&self.jobs).await?;
        let new = ledger::mark_once(&store, &self.marks).await?;
        let agenda = self
            .marks
            .iter()
            .zip(&new)
            .filter(|(m, new)| **new && m.agenda_item.is_some())
            .count() as u64;
        save_moves(&store, &self.moved, self.read, self.events).await?;
        Ok(Written {
            queued: added,
            already_queued: self.jobs.len() as u64 - added.min(self.jobs.len() as u64),
            agenda,
        })
    }
}

/// Writes the plan changes, each only onto the contact as the run saw it: one moved
/// meanwhile (`contact move`, an import) keeps that move, and the next run expands it
/// again. Other changes made meanwhile (a response) are kept with the move.
async fn save_moves(
    store: &Store,
    moved: &Moves,
    read: std::collections::HashMap<String, Option<String>>,
    events: Vec<(String, Event)>,
) -> anyhow::Result<()> {
    let ids: Vec<String> = moved.keys().cloned().collect();
    let written = store
        .update_contacts_as_read(&ids, read, |id, stored| {
            let mut c = stored?;
            let (plan_seen, steps) = moved.get(id)?;
            if c.plan() != plan_seen.as_deref() {
                return None;
            }
            for (to, on) in steps {
                c.enroll(to, *on);
            }
            Some(c)
        })
        .await?;
    let written: std::collections::HashSet<&str> = written.iter().map(|c| c.id.0.as_str()).collect();
    let events: Vec<(String, Event)> = events.into_iter().filter(|(id, _)| written.contains(id.as_str())).collect();
    store.push_history(&events).await?;
    Ok(())
}

impl Pages<'_> {
    /// When a touch with a send time goes out (unix seconds; `None`: now, or already past):
    /// `at` on its day in the contact's timezone, spread over `[delivery] send_spread_secs`.
    fn send_time(&self, t: &DueTouch, contact: &Contact, now: i64) -> Option<i64> {
        let at = t.at?;
        let tz = contact.timezone(self.sender_tz);
        let local = t.due.and_time(at);
        // A time skipped by a DST change falls an hour later.
        let when = tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())?;
        let ts = when.timestamp() + crate::queue::spread_secs(&t.key(), self.ws.config.delivery.send_spread_secs);
        (ts > now).then_some(ts)
    }
}

fn job(t: &DueTouch, template: &str, run_date: chrono::NaiveDate) -> DeliveryJob {
    DeliveryJob {
        v: JOB_VERSION,
        key: t.key(),
        contact_id: t.contact_id.clone(),
        plan: t.plan.clone(),
        touch: t.touch.clone(),
        channel: t.channel,
        template: template.to_string(),
        due: t.due,
        run_date,
        attempt: 0,
        requeue: 0,
        first_failed_at: None,
        revived: 0,
        not_before: None,
        webhook: None,
    }
}

fn mark(t: &DueTouch, state: String, event: Event) -> Mark {
    Mark {
        key: t.key(),
        contact_id: t.contact_id.clone(),
        state,
        event,
        agenda_item: None,
    }
}

/// Opens an agenda item for a manual touch (once: a done item is not opened again).
fn agenda_mark(t: &DueTouch, contact: &Contact, day: &str) -> Mark {
    let item = AgendaItem::new(t, contact);
    let json = serde_json::to_string(&item).unwrap_or_default();
    let mut m = mark(
        t,
        "agenda".into(),
        Event::touch(day, "agenda", &t.plan, &t.touch, t.channel.as_str()),
    );
    m.agenda_item = Some((item.id, json));
    m
}
