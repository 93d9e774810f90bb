//! Intake: contacts that arrive (an imported file today; leads later) are upserted into the
//! store — the one pipeline for it. Rows of forgotten people are refused; each row goes to the
//! contact it belongs to (one person, one contact: [`crate::contacts::identity`]); the rows of
//! one contact are merged in file order and written with a compare-and-set, so a run or a
//! response writing the same contact meanwhile keeps its change; creations and enrollments
//! become history events. An orchestrator: the rules live in `contacts` and `store`.

use crate::compliance::erasure::address_hash;
use crate::config::AssignConfig;
use crate::contacts::Contact;
use crate::contacts::identity::{Placed, Placement, Row, place};
use crate::contacts::import::Rejection;
use crate::facts::{Attribution, Fact, Kind as FactKind};
use crate::history::Event;
use crate::store::{IntakeReads, Store, StoreError};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Rows handled per round trip.
pub const CHUNK: usize = 1000;

/// How many notes (rows matched by address, duplicates) are kept for printing.
const NOTES_KEPT: usize = 50;

/// What an intake did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Contacts created.
    pub created: u64,
    /// Contacts changed.
    pub updated: u64,
    /// Contacts whose rows changed nothing.
    pub unchanged: u64,
    /// Rows whose email is on the suppression list (they stay suppressed).
    pub suppressed: u64,
    /// Rows that found their contact by email or phone under another id.
    pub matched_by_address: u64,
    /// Rows that repeat an earlier row of the same contact in this file (merged).
    pub duplicates: u64,
    /// Rows with a phone and no SMS consent in the file: no texts unless their contact
    /// already has one (`[sms] require_consent`).
    pub phones_without_consent: u64,
    /// Rows not imported.
    pub rejected_rows: u64,
    /// Every problem of the rows not imported.
    pub rejected: Vec<Rejection>,
    /// The first notes, for people (`file:line: note: ...`).
    #[serde(skip)]
    pub notes: Vec<String>,
    /// Notes not kept in `notes`.
    #[serde(skip)]
    pub notes_more: u64,
}

impl Report {
    /// Counts a rejected row with all its problems.
    pub fn reject(&mut self, problems: Vec<Rejection>) {
        self.rejected_rows += 1;
        self.rejected.extend(problems);
    }

    fn note(&mut self, text: String) {
        if self.notes.len() < NOTES_KEPT {
            self.notes.push(text);
        } else {
            self.notes_more += 1;
        }
    }
}

/// How rows meet the contacts they belong to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules<'a> {
    /// New contacts without an agent get one by these rules (`import --assign`, leads).
    pub assign: Option<&'a AssignConfig>,
    /// Rows only fill fields a stored contact has no value for (leads), instead of
    /// overwriting them (imports).
    pub fill_only: bool,
}

/// An intake in progress: one per file.
pub struct Intake<'a> {
    store: &'a Store,
    pepper: &'a str,
    file: String,
    /// How its contacts arrived, for their history (`imported from contacts.csv`).
    origin: String,
    today: NaiveDate,
    dry_run: bool,
    rules: Rules<'a>,
    /// First line of each contact (by a fingerprint of its id) seen in this file.
    first_line: HashMap<u64, u64>,
    /// What was done so far.
    pub report: Report,
    /// The last chunk placed, not yet written: its write starts once the next chunk's reads
    /// are on their way.
    pending: Option<PlacedChunk>,
    /// The chunks not known to be written, oldest first: where their rows went (a later
    /// chunk's reads may not see their writes, so its placement looks here first) and, once
    /// started, their write.
    in_flight: std::collections::VecDeque<InFlight>,
}

/// A chunk placed whose write is not known to be done.
struct InFlight {
    placed: Placed,
    write: Option<tokio::task::JoinHandle<Result<Tally, StoreError>>>,
}

/// Chunks written at once. Two chunks' writes run side by side only when no contact is in
/// both (the later rows of a contact must land last).
const WRITES_AT_ONCE: usize = 2;

/// History events by contact id.
type Events = Vec<(String, Event)>;

/// `lead` webhook events by contact id.
type LeadEvents = Vec<(String, serde_json::Value)>;

/// How a chunk's writes changed its contacts.
#[derive(Debug, Default)]
struct Tally {
    created: u64,
    updated: u64,
    unchanged: u64,
    /// Rows of people forgotten between the reads and the write: refused by the write itself.
    forgotten: Vec<Rejection>,
}

/// One chunk, placed: what its write needs, owned (it runs on a task of its own).
struct PlacedChunk {
    store: Store,
    chunk: Vec<(u64, Contact)>,
    /// Target contact id → the chunk's rows for it, in file order.
    groups: Vec<(String, Vec<usize>)>,
    /// The stored JSON of the rows' own ids, as read before placing.
    read: HashMap<String, Option<String>>,
    /// `assigned` history events.
    assigned: Vec<(String, Event)>,
    origin: String,
    today: NaiveDate,
    fill: bool,
    /// For the forgotten check made with the write.
    pepper: String,
    file: String,
}

impl<'a> Intake<'a> {
    /// Starts an intake of `file` (its name goes into history events and messages).
    pub fn new(store: &'a Store, pepper: &'a str, file: &str, today: NaiveDate, dry_run: bool) -> Self {
        Intake {
            store,
            pepper,
            file: file.to_string(),
            origin: format!("imported from {file}"),
            today,
            dry_run,
            rules: Rules::default(),
            first_line: HashMap::new(),
            report: Report::default(),
            pending: None,
            in_flight: Default::default(),
        }
    }

    /// Assigns new contacts and fills instead of overwriting, as `rules` say.
    pub fn with_rules(mut self, rules: Rules<'a>) -> Self {
        self.rules = rules;
        self
    }

    /// Says how its contacts arrived in their history (`lead from zillow`; default
    /// `imported from FILE`).
    pub fn with_origin(mut self, origin: String) -> Self {
        self.origin = origin;
        self
    }

    /// Upserts one chunk of normalized rows (with their lines). Chunks move at once: Redis
    /// answers this chunk's reads (one round trip), then writes the previous chunks while this
    /// one is placed here. Call [`Intake::finish`] at the end.
    pub async fn upsert(&mut self, chunk: Vec<(u64, Contact)>) -> Result<(), StoreError> {
        let (store, file, today) = (self.store, self.file.clone(), self.today);
        self.report.phones_without_consent += chunk
            .iter()
            .filter(|(_, c)| c.phone().is_some() && c.get("sms_consent").is_none())
            .count() as u64;
        self.settle(WRITES_AT_ONCE - 1).await?;
        let pending = self.pending.take();
        if let Some(p) = &pending {
            // A contact in a chunk still being written: that write goes first.
            while self
                .in_flight
                .iter()
                .any(|f| f.write.is_some() && p.groups.iter().any(|(id, _)| f.placed.has_id(id)))
            {
                self.settle_oldest().await?;
            }
        }
        let hashes = address_hashes(self.pepper, &chunk);
        let reads = read_chunk(store, &chunk, &hashes);
        let (reads, writing) = tokio::join!(reads, async { pending.map(|p| tokio::spawn(p.write())) });
        if let Some(last) = self.in_flight.back_mut().filter(|_| writing.is_some()) {
            last.write = writing;
        }
        let (mut chunk, reads) = drop_forgotten(chunk, &hashes, reads?, &file, &mut self.report);
        let earlier: Vec<&Placed> = self.in_flight.iter().rev().map(|f| &f.placed).collect();
        // Rows whose contact a chunk still being written holds: stored, whatever the reads say.
        let held: Vec<bool> = chunk.iter().map(|(_, c)| earlier.iter().any(|p| p.has_id(&c.id.0))).collect();
        let stored: Vec<bool> = reads.stored.iter().zip(&held).map(|(raw, held)| raw.is_some() || *held).collect();
        let (groups, placed) = place_rows(&chunk, &stored, &reads, &earlier, &file, &mut self.report, &mut self.first_line);
        let assigned = match self.rules.assign {
            Some(cfg) if !self.dry_run => assign_new(store, cfg, &mut chunk, &groups, &earlier, today).await?,
            _ => Vec::new(),
        };
        self.report.suppressed += reads.suppressed.iter().filter(|f| **f).count() as u64;
        // What the reads said of a contact that an earlier chunk still being written holds is
        // stale: its write reads it again (after that chunk's), else an "unchanged" row could
        // let the earlier one's values win.
        let read = chunk
            .iter()
            .zip(reads.stored)
            .zip(&held)
            .filter(|(_, held)| !**held)
            .map(|(((_, c), raw), _)| (c.id.0.clone(), raw))
            .collect();
        let placed_chunk = PlacedChunk {
            store: store.clone(),
            chunk,
            groups,
            read,
            assigned,
            origin: self.origin.clone(),
            today,
            fill: self.rules.fill_only,
            pepper: self.pepper.to_string(),
            file: self.file.clone(),
        };
        if self.dry_run {
            let tally = placed_chunk.dry_run().await?;
            self.count(tally);
            return Ok(());
        }
        self.pending = Some(placed_chunk);
        self.in_flight.push_back(InFlight { placed, write: None });
        Ok(())
    }

    /// Waits for the oldest writes until at most `writes` are running.
    async fn settle(&mut self, writes: usize) -> Result<(), StoreError> {
        while self.in_flight.iter().filter(|f| f.write.is_some()).count() > writes {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Waits for the oldest write running.
    async fn settle_oldest(&mut self) -> Result<(), StoreError> {
        let Some(f) = self.in_flight.pop_front() else { return Ok(()) };
        if let Some(write) = f.write {
            // Never aborted: an error here is the task's panic, raised again.
            let tally = write.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
            self.count(tally);
        }
        Ok(())
    }

    fn count(&mut self, tally: Tally) {
        self.report.created += tally.created;
        self.report.updated += tally.updated;
        self.report.unchanged += tally.unchanged;
        if !tally.forgotten.is_empty() {
            self.report.reject(tally.forgotten);
        }
    }

    /// Writes what is still pending and waits until everything upserted so far is written.
    pub async fn finish(&mut self) -> Result<(), StoreError> {
        self.settle(0).await?;
        self.in_flight.clear();
        if let Some(pending) = self.pending.take() {
            let tally = pending.write().await?;
            self.count(tally);
        }
        Ok(())
    }
}

impl PlacedChunk {
    /// Merges each contact's rows into it as stored now (a run or a response writing it
    /// meanwhile keeps its change: the write is retried on the newer value), writes it, then
    /// its history events and lead facts.
    async fn write(mut self) -> Result<Tally, StoreError> {
        let read = std::mem::take(&mut self.read);
        // Shared by the merge and the history it writes with each contact (never contended).
        let merged = std::sync::Mutex::new(Merged::new(&self));
        let lock = || merged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let targets: Vec<String> = self.groups.iter().map(|(id, _)| id.clone()).collect();
        let (_, refused) = self
            .store
            .update_contacts_unless_forgotten(
                &targets,
                read,
                &self.pepper,
                |id, stored| lock().apply(id, stored),
                |id| lock().history_of(id),
            )
            .await?;
        let mut merged = merged.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        for id in &refused {
            merged.refuse(id);
        }
        let (tally, events, leads, lead_events) = merged.finish();
        self.store.push_history(&events).await?;
        self.store.record_facts(&leads).await?;
        crate::webhooks::emit_all(&self.store, "lead", lead_events).await;
        Ok(tally)
    }

    /// What [`PlacedChunk::write`] would do, written nowhere.
    async fn dry_run(self) -> Result<Tally, StoreError> {
        let mut merged = Merged::new(&self);
        let targets: Vec<String> = self.groups.iter().map(|(id, _)| id.clone()).collect();
        for (id, stored) in targets.iter().zip(self.store.contacts(&targets).await?) {
            merged.apply(id, stored);
        }
        Ok(merged.finish().0)
    }
}

/// The merge of a placed chunk, by target id (a write retried on a newer value merges again).
struct Merged<'p> {
    p: &'p PlacedChunk,
    rows_of: HashMap<&'p str, &'p Vec<usize>>,
    outcomes: HashMap<String, (Outcome, Vec<Event>)>,
    leads: HashMap<String, (NaiveDate, Fact)>,
    /// What a `lead` webhook event says of each contact created.
    lead_events: HashMap<String, serde_json::Value>,
    forgotten: Vec<Rejection>,
}

impl<'p> Merged<'p> {
    fn new(p: &'p PlacedChunk) -> Self {
        Merged {
            p,
            rows_of: p.groups.iter().map(|(id, rows)| (id.as_str(), rows)).collect(),
            outcomes: HashMap::with_capacity(p.groups.len()),
            leads: HashMap::with_capacity(p.groups.len()),
            lead_events: HashMap::new(),
            forgotten: Vec::new(),
        }
    }

    fn apply(&mut self, id: &str, stored: Option<Contact>) -> Option<Contact> {
        let p = self.p;
        let incoming = self.rows_of[id].iter().map(|&i| &p.chunk[i].1);
        let (merged, outcome) = merge_rows(stored, incoming, &p.origin, p.today, p.fill);
        match (&outcome.0, &merged) {
            (Outcome::Created, Some(c)) => {
                let lead = Fact::new(FactKind::Lead, p.store.pseudonym(id), Attribution::of(c));
                self.leads.insert(id.to_string(), (arrived_on(c, p.today), lead));
                if p.store.webhook_config().is_some() {
                    self.lead_events.insert(id.to_string(), lead_event(c));
                }
            }
            _ => {
                self.leads.remove(id);
                self.lead_events.remove(id);
            }
        }
        self.outcomes.insert(id.to_string(), outcome);
        merged
    }

    /// `id` was forgotten while its rows were on their way: nothing of it is written, each of
    /// its rows is rejected.
    fn refuse(&mut self, id: &str) {
        self.outcomes.remove(id);
        self.leads.remove(id);
        self.lead_events.remove(id);
        let p = self.p;
        for &i in self.rows_of.get(id).copied().into_iter().flatten() {
            let (line, c) = &p.chunk[i];
            let column = if c.email().is_some() { "email" } else { "phone" };
            let reason = "this person asked to be forgotten (`nurture forget`); not imported".to_string();
            self.forgotten.push(Rejection::new(&p.file, *line, column, reason));
        }
    }

    /// The history events (JSON, oldest first) the last merge of `id` made: written with it.
    fn history_of(&self, id: &str) -> Vec<String> {
        self.outcomes
            .get(id)
            .map(|(_, events)| events.iter().map(Event::to_json).collect())
            .unwrap_or_default()
    }

    /// The tally, the history events not written with a contact (those of contacts left
    /// unchanged, then `assigned`), the lead facts and the `lead` webhook events.
    fn finish(self) -> (Tally, Events, Vec<(NaiveDate, Fact)>, LeadEvents) {
        let mut tally = Tally::default();
        let mut events = Vec::new();
        for (id, (outcome, unwritten)) in self.outcomes {
            match outcome {
                Outcome::Created => tally.created += 1,
                Outcome::Updated => tally.updated += 1,
                Outcome::Unchanged => {
                    tally.unchanged += 1;
                    events.extend(unwritten.into_iter().map(|e| (id.clone(), e)));
                }
            }
        }
        events.extend(self.p.assigned.iter().cloned());
        tally.forgotten = self.forgotten;
        (
            tally,
            events,
            self.leads.into_values().collect(),
            self.lead_events.into_iter().collect(),
        )
    }
}

/// What a `lead` webhook event says of a new contact: how to reach them and where they came
/// from.
fn lead_event(c: &Contact) -> serde_json::Value {
    let field = |k: &str| c.get(k).unwrap_or_default().to_string();
    serde_json::json!({
        "email": field("email"),
        "phone": field("phone"),
        "first_name": field("first_name"),
        "last_name": field("last_name"),
        "source": field("source"),
        "agent": field("agent"),
        "plan": c.plan().unwrap_or_default(),
        "stage": crate::contacts::pipeline::Pipeline::stage_of(c),
    })
}

/// A short fingerprint of a contact id (the duplicate check keeps one per contact of a file:
/// 16 bytes each instead of the id).
fn fingerprint(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Gives each new contact whose rows name no agent the agent (and, without a plan of its
/// own, the plan) of its source's `[assign]` rule; returns the history events saying which
/// rule decided.
async fn assign_new(
    store: &Store,
    cfg: &AssignConfig,
    chunk: &mut [(u64, Contact)],
    groups: &[(String, Vec<usize>)],
    in_flight: &[&Placed],
    today: NaiveDate,
) -> Result<Vec<(String, Event)>, StoreError> {
    let targets: Vec<String> = groups.iter().map(|(id, _)| id.clone()).collect();
    let exists: Vec<bool> = store
        .contacts_exist(&targets)
        .await?
        .into_iter()
        .zip(&targets)
        .map(|(stored, id)| stored || in_flight.iter().any(|p| p.has_id(id)))
        .collect();
    let unassigned: Vec<&(String, Vec<usize>)> = groups
        .iter()
        .zip(exists)
        .filter(|((_, rows), stored)| !stored && rows.iter().all(|&i| chunk[i].1.get("agent").is_none()))
        .map(|(g, _)| g)
        .collect();
    let sources: Vec<String> = unassigned
        .iter()
        .map(|(_, rows)| rows.iter().find_map(|&i| chunk[i].1.get("source")).unwrap_or_default().to_string())
        .collect();
    let refs: Vec<&str> = sources.iter().map(String::as_str).collect();
    let decided = crate::assign::assign(store, cfg, &refs).await?;
    let mut events = Vec::new();
    for ((id, rows), a) in unassigned.into_iter().zip(decided) {
        let Some(a) = a else { continue };
        let has_plan = rows.iter().any(|&i| chunk[i].1.plan().is_some());
        for &i in rows {
            let c = &mut chunk[i].1;
            c.fields.insert("agent".into(), a.agent.clone());
            if !has_plan && !a.plan.is_empty() {
                c.fields.insert("plan".into(), a.plan.clone());
                c.fields.entry("enrolled_on".into()).or_insert_with(|| today.to_string());
            }
        }
        events.push((id.clone(), Event::new(today.to_string(), "assigned", a.describe())));
    }
    Ok(events)
}

/// How an import changed one contact.
pub(crate) enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// The keyed hashes of each row's email and phone (how forgotten people are remembered).
fn address_hashes(pepper: &str, chunk: &[(u64, Contact)]) -> Vec<Vec<String>> {
    chunk
        .iter()
        .map(|(_, c)| {
            let mut h = Vec::new();
            h.extend(c.email().map(|e| address_hash(pepper, "email", e)));
            h.extend(c.phone().map(|p| address_hash(pepper, "sms", p)));
            h
        })
        .collect()
}

/// Reads what placing a chunk needs, in one round trip.
async fn read_chunk(store: &Store, chunk: &[(u64, Contact)], hashes: &[Vec<String>]) -> Result<IntakeReads, StoreError> {
    let ids: Vec<&str> = chunk.iter().map(|(_, c)| c.id.0.as_str()).collect();
    let emails: Vec<&str> = chunk.iter().map(|(_, c)| c.email().unwrap_or("")).collect();
    let phones: Vec<&str> = chunk.iter().map(|(_, c)| c.phone().unwrap_or("")).collect();
    let flat: Vec<&String> = hashes.iter().flatten().collect();
    store.intake_reads(&flat, &ids, &emails, &phones).await
}

/// The reads of the rows `keep` says.
fn retain(reads: IntakeReads, keep: &[bool]) -> IntakeReads {
    fn pick<T>(v: Vec<T>, keep: &[bool]) -> Vec<T> {
        v.into_iter().zip(keep).filter(|(_, k)| **k).map(|(x, _)| x).collect()
    }
    IntakeReads {
        forgotten: Vec::new(),
        stored: pick(reads.stored, keep),
        email_owners: pick(reads.email_owners, keep),
        phone_owners: pick(reads.phone_owners, keep),
        suppressed: pick(reads.suppressed, keep),
    }
}

/// People who asked to be forgotten are never imported again: their rows are rejected.
fn drop_forgotten(
    chunk: Vec<(u64, Contact)>,
    hashes: &[Vec<String>],
    reads: IntakeReads,
    file: &str,
    t: &mut Report,
) -> (Vec<(u64, Contact)>, IntakeReads) {
    if !reads.forgotten.iter().any(|f| *f) {
        return (chunk, reads);
    }
    let known: HashSet<&String> = hashes
        .iter()
        .flatten()
        .zip(&reads.forgotten)
        .filter(|(_, f)| **f)
        .map(|(h, _)| h)
        .collect();
    let keep: Vec<bool> = hashes.iter().map(|h| !h.iter().any(|x| known.contains(x))).collect();
    let mut kept = Vec::new();
    for ((line, c), keep) in chunk.into_iter().zip(&keep) {
        if *keep {
            kept.push((line, c));
        } else {
            let column = if c.email().is_some() { "email" } else { "phone" };
            let reason = "this person asked to be forgotten (`nurture forget`); not imported".to_string();
            t.reject(vec![Rejection::new(file, line, column, reason)]);
        }
    }
    (kept, retain(reads, &keep))
}

/// Which contact each row goes to (one person, one contact), in file order: the target ids
/// with the rows for each. Conflicting rows are rejected.
fn place_rows(
    chunk: &[(u64, Contact)],
    stored: &[bool],
    reads: &IntakeReads,
    earlier: &[&Placed],
    file: &str,
    t: &mut Report,
    first_line: &mut HashMap<u64, u64>,
) -> (Vec<(String, Vec<usize>)>, Placed) {
    let (email_owners, phone_owners) = (&reads.email_owners, &reads.phone_owners);
    let mut placed = Placed::default();
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::with_capacity(chunk.len());
    for (i, (line, c)) in chunk.iter().enumerate() {
        let owner = |a: Option<&str>, stored: &Option<String>| -> Option<String> {
            let a = a?;
            placed
                .owner(a)
                .or_else(|| earlier.iter().find_map(|p| p.owner(a)))
                .map(str::to_string)
                .or_else(|| stored.clone())
        };
        let email_owner = owner(c.email(), &email_owners[i]);
        let phone_owner = owner(c.phone(), &phone_owners[i]);
        let row = Row {
            id: &c.id.0,
            id_known: stored[i] || placed.has_id(&c.id.0),
            email_owner: email_owner.as_deref(),
            phone_owner: phone_owner.as_deref(),
        };
        let target = match place(row) {
            Placement::Own => c.id.0.clone(),
            Placement::Existing { id, by } => {
                t.matched_by_address += 1;
                t.note(format!(
                    "{file}:{line}: note: this {by} is already contact {id:?}: that contact is updated, no second one is made"
                ));
                id
            }
            Placement::Conflict { column, reason } => {
                t.reject(vec![Rejection::new(file, *line, column, reason)]);
                continue;
            }
        };
        // The same person twice in one file: merged, the later row's values winning.
        let key = fingerprint(&target);
        match first_line.get(&key) {
            Some(&first) if first != *line => {
                t.duplicates += 1;
                t.note(format!(
                    "{file}:{line}: note: repeats line {first} (contact {target:?}): merged, this row's values win"
                ));
            }
            Some(_) => {}
            None => {
                first_line.insert(key, *line);
            }
        }
        placed.add(&target, c.email().into_iter().chain(c.phone()));
        let g = *group_of.entry(target.clone()).or_insert_with(|| {
            groups.push((target, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    (groups, placed)
}

/// Merges a contact's rows, in file order, into its stored version: what to write (`None`:
/// nothing changed) and the outcome with its history events. A contact's `source` is the
/// first one it came with: a row naming another is noted in the history, not applied.
fn merge_rows<'a>(
    stored: Option<Contact>,
    rows: impl Iterator<Item = &'a Contact>,
    origin: &str,
    today: NaiveDate,
    fill: bool,
) -> (Option<Contact>, (Outcome, Vec<Event>)) {
    let created = stored.is_none();
    let plan_before = stored.as_ref().and_then(|c| c.plan().map(str::to_string));
    let mut current = stored.clone();
    let mut events = Vec::new();
    for row in rows {
        match &mut current {
            None => current = Some(row.clone()),
            Some(c) => {
                let mut row = std::borrow::Cow::Borrowed(row);
                if let (Some(kept), Some(other)) = (c.get("source").filter(|s| !s.is_empty()), row.get("source"))
                    && other != kept
                {
                    let detail = format!("{origin} says source {other}; the first source, {kept}, is kept");
                    events.push(Event::new(today.to_string(), "source_kept", detail));
                    row.to_mut().fields.remove("source");
                }
                if fill {
                    c.fill(&row);
                } else {
                    c.merge(&row);
                }
            }
        }
    }
    let Some(c) = current else {
        return (None, (Outcome::Unchanged, events));
    };
    if created {
        events.insert(0, arrived(&c, origin, "created", today));
        return (Some(c), (Outcome::Created, events));
    }
    if stored.as_ref() == Some(&c) {
        return (None, (Outcome::Unchanged, events));
    }
    if c.plan().map(str::to_string) != plan_before {
        events.push(arrived(&c, origin, "enrolled", today));
    }
    (Some(c), (Outcome::Updated, events))
}

/// The day a contact arrived: the day it entered its plan, else `today` (in the sender's
/// timezone like every other date).
fn arrived_on(c: &Contact, today: NaiveDate) -> NaiveDate {
    c.enrolled_on().unwrap_or(today)
}

/// The history event of an intake that created a contact or put it on a plan, dated the day
/// it entered the plan: `imported from contacts.csv, source zillow`.
fn arrived(c: &Contact, origin: &str, what: &str, today: NaiveDate) -> Event {
    let at = arrived_on(c, today).to_string();
    let source = c.get("source").map(|s| format!(", source {s}")).unwrap_or_default();
    let mut e = Event::new(at, what, format!("{origin}{source}"));
    e.plan = c.plan().map(str::to_string);
    e
}
