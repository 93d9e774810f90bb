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
use crate::store::{Store, StoreError};
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

    /// Upserts one chunk of normalized rows (with their lines).
    pub async fn upsert(&mut self, chunk: Vec<(u64, Contact)>) -> Result<(), StoreError> {
        let (store, file, today, fill) = (self.store, self.file.clone(), self.today, self.rules.fill_only);
        let mut chunk = drop_forgotten(self.pepper, store, chunk, &file, &mut self.report).await?;
        let groups = place_rows(store, &chunk, &file, &mut self.report, &mut self.first_line).await?;
        let assigned = match self.rules.assign {
            Some(cfg) if !self.dry_run => assign_new(store, cfg, &mut chunk, &groups, today).await?,
            _ => Vec::new(),
        };
        let emails: Vec<String> = chunk.iter().map(|(_, c)| c.email().unwrap_or("").to_string()).collect();
        let flags = store.suppressed_among("email", &emails).await?;
        self.report.suppressed += flags.iter().filter(|f| **f).count() as u64;
        let targets: Vec<String> = groups.iter().map(|(id, _)| id.clone()).collect();
        let rows_of: HashMap<&str, &Vec<usize>> = groups.iter().map(|(id, rows)| (id.as_str(), rows)).collect();
        // Applied to the contact as stored *now*: a run or a response writing it meanwhile
        // keeps its change (the write is retried on the newer value).
        let mut outcomes: HashMap<String, (Outcome, Option<Event>)> = HashMap::new();
        // By id: a write retried on a newer value calls `apply` again.
        let mut leads: HashMap<String, (NaiveDate, Fact)> = HashMap::new();
        let mut apply = |id: &str, stored: Option<Contact>| {
            let incoming = rows_of[id].iter().map(|&i| &chunk[i].1);
            let (merged, outcome) = merge_rows(stored, incoming, &self.origin, today, fill);
            match (&outcome.0, &merged) {
                (Outcome::Created, Some(c)) => {
                    let lead = Fact::new(FactKind::Lead, store.pseudonym(id), Attribution::of(c));
                    leads.insert(id.to_string(), (arrived_on(c, today), lead));
                }
                _ => {
                    leads.remove(id);
                }
            }
            outcomes.insert(id.to_string(), outcome);
            merged
        };
        if self.dry_run {
            for (id, stored) in targets.iter().zip(store.contacts(&targets).await?) {
                apply(id, stored);
            }
        } else {
            store.update_contacts(&targets, apply).await?;
        }
        let mut events = Vec::new();
        for (id, (outcome, event)) in outcomes {
            match outcome {
                Outcome::Created => self.report.created += 1,
                Outcome::Updated => self.report.updated += 1,
                Outcome::Unchanged => self.report.unchanged += 1,
            }
            events.extend(event.map(|e| (id, e)));
        }
        events.extend(assigned);
        if !self.dry_run {
            store.push_history(&events).await?;
            store.record_facts(&leads.into_values().collect::<Vec<_>>()).await?;
        }
        Ok(())
    }
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
    today: NaiveDate,
) -> Result<Vec<(String, Event)>, StoreError> {
    let targets: Vec<String> = groups.iter().map(|(id, _)| id.clone()).collect();
    let exists = store.contacts_exist(&targets).await?;
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

/// People who asked to be forgotten are never imported again.
async fn drop_forgotten(
    pepper: &str,
    store: &Store,
    chunk: Vec<(u64, Contact)>,
    file: &str,
    t: &mut Report,
) -> Result<Vec<(u64, Contact)>, StoreError> {
    let hashes: Vec<Vec<String>> = chunk
        .iter()
        .map(|(_, c)| {
            let mut h = Vec::new();
            h.extend(c.email().map(|e| address_hash(pepper, "email", e)));
            h.extend(c.phone().map(|p| address_hash(pepper, "sms", p)));
            h
        })
        .collect();
    let flat: Vec<String> = hashes.iter().flatten().cloned().collect();
    let known: HashSet<&String> = flat
        .iter()
        .zip(store.forgotten_among(&flat).await?)
        .filter(|(_, f)| *f)
        .map(|(h, _)| h)
        .collect();
    if known.is_empty() {
        return Ok(chunk);
    }
    let mut kept = Vec::new();
    for ((line, c), h) in chunk.into_iter().zip(&hashes) {
        if h.iter().any(|x| known.contains(x)) {
            let column = if c.email().is_some() { "email" } else { "phone" };
            let reason = "this person asked to be forgotten (`nurture forget`); not imported".to_string();
            t.reject(vec![Rejection::new(file, line, column, reason)]);
        } else {
            kept.push((line, c));
        }
    }
    Ok(kept)
}

/// Which contact each row goes to (one person, one contact), in file order: the target ids
/// with the rows for each. Conflicting rows are rejected.
async fn place_rows(
    store: &Store,
    chunk: &[(u64, Contact)],
    file: &str,
    t: &mut Report,
    first_line: &mut HashMap<u64, u64>,
) -> Result<Vec<(String, Vec<usize>)>, StoreError> {
    let ids: Vec<String> = chunk.iter().map(|(_, c)| c.id.0.clone()).collect();
    let stored = store.contacts_exist(&ids).await?;
    let address = |f: fn(&Contact) -> Option<&str>| chunk.iter().map(|(_, c)| f(c).unwrap_or("").to_string()).collect::<Vec<_>>();
    let email_owners = store.owners("email", &address(Contact::email)).await?;
    let phone_owners = store.owners("phone", &address(Contact::phone)).await?;
    let mut placed = Placed::default();
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for (i, (line, c)) in chunk.iter().enumerate() {
        let owner = |a: Option<&str>, stored: &Option<String>| -> Option<String> {
            let a = a?;
            placed.owner(a).map(str::to_string).or_else(|| stored.clone())
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
    Ok(groups)
}

/// Merges a contact's rows, in file order, into its stored version: what to write (`None`:
/// nothing changed) and the outcome with its history event.
fn merge_rows<'a>(
    stored: Option<Contact>,
    rows: impl Iterator<Item = &'a Contact>,
    origin: &str,
    today: NaiveDate,
    fill: bool,
) -> (Option<Contact>, (Outcome, Option<Event>)) {
    let created = stored.is_none();
    let plan_before = stored.as_ref().and_then(|c| c.plan().map(str::to_string));
    let mut current = stored.clone();
    for row in rows {
        match &mut current {
            None => current = Some(row.clone()),
            Some(c) if fill => {
                c.fill(row);
            }
            Some(c) => {
                c.merge(row);
            }
        }
    }
    let Some(c) = current else {
        return (None, (Outcome::Unchanged, None));
    };
    if created {
        let event = arrived(&c, origin, "created", today);
        return (Some(c), (Outcome::Created, Some(event)));
    }
    if stored.as_ref() == Some(&c) {
        return (None, (Outcome::Unchanged, None));
    }
    let event = (c.plan().map(str::to_string) != plan_before).then(|| arrived(&c, origin, "enrolled", today));
    (Some(c), (Outcome::Updated, event))
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
