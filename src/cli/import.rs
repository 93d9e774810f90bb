//! `nurture import FILE`: parse, merge into stored contacts, report.

use super::{clock_and_date, connect, print_json};
use crate::compliance::erasure::address_hash;
use crate::config::Config;
use crate::contacts::Contact;
use crate::contacts::identity::{Placed, Placement, Row, place};
use crate::contacts::import::{ImportOptions, Rejection, Rows};
use crate::history::Event;
use crate::plans;
use crate::store::Store;
use chrono::NaiveDate;
use clap::Args;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;

/// `import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file with a header row.
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
    /// Report only; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
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
    };
    let mut rows = Rows::open(&a.file, &opts)?;
    let store = connect(&config).await?;
    let mut t = Tally::default();
    let file = a.file.display().to_string();
    loop {
        // 1,000 rows at a time: constant memory whatever the file size.
        let mut chunk: Vec<(u64, Contact)> = Vec::with_capacity(1000);
        for row in rows.by_ref() {
            match row {
                Ok(r) => chunk.push(r),
                Err(r) => t.reject(r, a.json),
            }
            if chunk.len() == 1000 {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let chunk = drop_forgotten(&config, &store, chunk, &file, &mut t, a.json).await?;
        let groups = place_rows(&store, &chunk, &file, &mut t, a.json).await?;
        let emails: Vec<String> = chunk.iter().map(|(_, c)| c.email().unwrap_or("").to_string()).collect();
        let flags = store.suppressed_among("email", &emails).await?;
        t.suppressed += flags.iter().filter(|f| **f).count() as u64;
        let targets: Vec<String> = groups.iter().map(|(id, _)| id.clone()).collect();
        let rows_of: HashMap<&str, &Vec<usize>> = groups.iter().map(|(id, rows)| (id.as_str(), rows)).collect();
        // Applied to the contact as stored *now*: a run or a response writing it meanwhile
        // keeps its change (the write is retried on the newer value).
        let mut outcomes: HashMap<String, (Outcome, Option<Event>)> = HashMap::new();
        let mut apply = |id: &str, stored: Option<Contact>| {
            let incoming = rows_of[id].iter().map(|&i| &chunk[i].1);
            let (merged, outcome) = merge_rows(stored, incoming, &file, today);
            outcomes.insert(id.to_string(), outcome);
            merged
        };
        if a.dry_run {
            for (id, stored) in targets.iter().zip(store.contacts(&targets).await?) {
                apply(id, stored);
            }
        } else {
            store.update_contacts(&targets, apply).await?;
        }
        let mut events = Vec::new();
        for (id, (outcome, event)) in outcomes {
            match outcome {
                Outcome::Created => t.created += 1,
                Outcome::Updated => t.updated += 1,
                Outcome::Unchanged => t.unchanged += 1,
            }
            events.extend(event.map(|e| (id, e)));
        }
        if !a.dry_run {
            store.push_history(&events).await?;
        }
    }
    let Tally {
        created,
        updated,
        unchanged,
        suppressed,
        matched,
        rejected,
        ..
    } = t;
    let report = serde_json::json!({
        "file": a.file.display().to_string(),
        "dry_run": a.dry_run,
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "matched_by_address": matched,
        "suppressed": suppressed,
        "rejected": rejected,
    });
    if a.json {
        print_json(&report)?;
    } else {
        let verb = if a.dry_run { "would import" } else { "imported" };
        println!(
            "{verb} {}: {created} new, {updated} updated, {unchanged} unchanged, {} rejected; {suppressed} on the suppression list (they stay suppressed)",
            a.file.display(),
            rejected.len()
        );
        if matched > 0 {
            println!("{matched} row(s) found their contact by email or phone under another id (one person, one contact)");
        }
    }
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// What an import did so far.
#[derive(Default)]
struct Tally {
    created: u64,
    updated: u64,
    unchanged: u64,
    suppressed: u64,
    matched: u64,
    notes_shown: u64,
    rejected: Vec<Rejection>,
}

impl Tally {
    fn reject(&mut self, r: Rejection, json: bool) {
        if !json {
            eprintln!("{r}");
        }
        self.rejected.push(r);
    }

    /// A row that went to a contact with another id: a note on stderr (the first 50).
    fn matched(&mut self, file: &str, line: u64, by: &str, id: &str, json: bool) {
        self.matched += 1;
        if !json && self.notes_shown < 50 {
            self.notes_shown += 1;
            eprintln!("{file}:{line}: note: this {by} is already contact {id:?}: that contact is updated, no second one is made");
        }
    }
}

/// How an import changed one contact.
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// People who asked to be forgotten are never imported again.
async fn drop_forgotten(
    config: &Config,
    store: &Store,
    chunk: Vec<(u64, Contact)>,
    file: &str,
    t: &mut Tally,
    json: bool,
) -> anyhow::Result<Vec<(u64, Contact)>> {
    let hashes: Vec<Vec<String>> = chunk
        .iter()
        .map(|(_, c)| {
            let mut h = Vec::new();
            h.extend(c.email().map(|e| address_hash(config.pepper(), "email", e)));
            h.extend(c.phone().map(|p| address_hash(config.pepper(), "sms", p)));
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
            let r = Rejection {
                file: file.to_string(),
                line,
                column: if c.email().is_some() { "email".into() } else { "phone".into() },
                reason: "this person asked to be forgotten (`nurture forget`); not imported".into(),
            };
            t.reject(r, json);
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
    t: &mut Tally,
    json: bool,
) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    let ids: Vec<String> = chunk.iter().map(|(_, c)| c.id.0.clone()).collect();
    let stored = store.contacts(&ids).await?;
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
            id_known: stored[i].is_some() || placed.has_id(&c.id.0),
            email_owner: email_owner.as_deref(),
            phone_owner: phone_owner.as_deref(),
        };
        let target = match place(row) {
            Placement::Own => c.id.0.clone(),
            Placement::Existing { id, by } => {
                t.matched(file, *line, by, &id, json);
                id
            }
            Placement::Conflict { column, reason } => {
                let r = Rejection {
                    file: file.to_string(),
                    line: *line,
                    column: column.into(),
                    reason,
                };
                t.reject(r, json);
                continue;
            }
        };
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
    file: &str,
    today: NaiveDate,
) -> (Option<Contact>, (Outcome, Option<Event>)) {
    let created = stored.is_none();
    let plan_before = stored.as_ref().and_then(|c| c.plan().map(str::to_string));
    let mut current = stored.clone();
    for row in rows {
        match &mut current {
            None => current = Some(row.clone()),
            Some(c) => {
                c.merge(row);
            }
        }
    }
    let Some(c) = current else {
        return (None, (Outcome::Unchanged, None));
    };
    if created {
        let event = imported(&c, file, "created", today);
        return (Some(c), (Outcome::Created, Some(event)));
    }
    if stored.as_ref() == Some(&c) {
        return (None, (Outcome::Unchanged, None));
    }
    let event = (c.plan().map(str::to_string) != plan_before).then(|| imported(&c, file, "enrolled", today));
    (Some(c), (Outcome::Updated, event))
}

/// The history event of an import that created a contact or put it on a plan, dated the day
/// it entered the plan (else `today`, in the sender's timezone like every other date).
fn imported(c: &Contact, file: &str, what: &str, today: NaiveDate) -> Event {
    let at = c.enrolled_on().unwrap_or(today).to_string();
    let source = c.get("source").map(|s| format!(", source {s}")).unwrap_or_default();
    let mut e = Event::new(at, what, format!("imported from {file}{source}"));
    e.plan = c.plan().map(str::to_string);
    e
}
