//! `nurture import FILE`: parse, merge into stored contacts, report.

use super::{clock_and_date, connect, print_json};
use crate::compliance::erasure::address_hash;
use crate::config::Config;
use crate::contacts::Contact;
use crate::contacts::import::{ImportOptions, Rejection, Rows};
use crate::history::Event;
use crate::plans;
use chrono::NaiveDate;
use clap::Args;
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
    let (mut created, mut updated, mut unchanged, mut suppressed) = (0u64, 0u64, 0u64, 0u64);
    let mut rejected: Vec<Rejection> = Vec::new();
    loop {
        // 1,000 rows at a time: constant memory whatever the file size.
        let mut lines: Vec<u64> = Vec::with_capacity(1000);
        let mut chunk: Vec<Contact> = Vec::with_capacity(1000);
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::with_capacity(1000);
        for row in rows.by_ref() {
            match row {
                // A later row of the same contact in the chunk replaces the earlier one.
                Ok((line, c)) => match seen.get(&c.id.0) {
                    Some(&i) => {
                        chunk[i] = c;
                        lines[i] = line;
                    }
                    None => {
                        seen.insert(c.id.0.clone(), chunk.len());
                        chunk.push(c);
                        lines.push(line);
                    }
                },
                Err(r) => {
                    if !a.json {
                        eprintln!("{r}");
                    }
                    rejected.push(r);
                }
            }
            if chunk.len() == 1000 {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        // People who asked to be forgotten are never imported again.
        let hashes: Vec<Vec<String>> = chunk
            .iter()
            .map(|c| {
                let mut h = Vec::new();
                h.extend(c.email().map(|e| address_hash(config.pepper(), "email", e)));
                h.extend(c.phone().map(|p| address_hash(config.pepper(), "sms", p)));
                h
            })
            .collect();
        let flat: Vec<String> = hashes.iter().flatten().cloned().collect();
        let known: std::collections::HashSet<&String> = flat
            .iter()
            .zip(store.forgotten_among(&flat).await?)
            .filter(|(_, f)| *f)
            .map(|(h, _)| h)
            .collect();
        if !known.is_empty() {
            let mut kept = Vec::new();
            for ((c, h), line) in chunk.into_iter().zip(&hashes).zip(&lines) {
                if h.iter().any(|x| known.contains(x)) {
                    let r = Rejection {
                        file: a.file.display().to_string(),
                        line: *line,
                        column: if c.email().is_some() { "email".into() } else { "phone".into() },
                        reason: "this person asked to be forgotten (`nurture forget`); not imported".into(),
                    };
                    if !a.json {
                        eprintln!("{r}");
                    }
                    rejected.push(r);
                } else {
                    kept.push(c);
                }
            }
            chunk = kept;
        }
        let ids: Vec<String> = chunk.iter().map(|c| c.id.0.clone()).collect();
        let existing = store.contacts(&ids).await?;
        let emails: Vec<String> = chunk.iter().map(|c| c.email().unwrap_or("").to_string()).collect();
        let flags = store.suppressed_among("email", &emails).await?;
        suppressed += flags.iter().filter(|f| **f).count() as u64;
        let mut writes: Vec<Contact> = Vec::new();
        let mut events: Vec<(String, Event)> = Vec::new();
        let source = a.file.display().to_string();
        for (incoming, old) in chunk.iter().zip(existing) {
            match old {
                None => {
                    created += 1;
                    events.push((incoming.id.0.clone(), imported(incoming, &source, "created", today)));
                    writes.push(incoming.clone());
                }
                Some(mut old) => {
                    let plan_before = old.plan().map(str::to_string);
                    if old.merge(incoming) {
                        updated += 1;
                        if old.plan().map(str::to_string) != plan_before {
                            events.push((old.id.0.clone(), imported(&old, &source, "enrolled", today)));
                        }
                        writes.push(old);
                    } else {
                        unchanged += 1;
                    }
                }
            }
        }
        if !a.dry_run {
            store.save_moves(&writes, &events).await?;
        }
    }
    let report = serde_json::json!({
        "file": a.file.display().to_string(),
        "dry_run": a.dry_run,
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
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
    }
    Ok(if rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
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
