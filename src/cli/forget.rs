//! `nurture forget CONTACT_ID|EMAIL|PHONE`: erase a person (right to erasure). Keeps only
//! keyed hashes of their addresses so a later import never brings them back.

use super::{connect, print_json, queue};
use crate::compliance::erasure::address_hash;
use crate::config::Config;
use crate::contacts::parse_address;
use clap::Args;
use std::process::ExitCode;

/// `forget` flags.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Contact id, email address or phone number.
    pub who: String,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn forget(config: Config, a: ForgetArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let q = queue(&config, &store);
    let who = a.who.trim();
    let region = &config.contacts.default_region;
    let given = parse_address(who, region).ok();
    let contact = match store.lookup(who, region).await? {
        Some(c) => Some(c),
        // An address the contact had before an import changed it: found by a scan (forget is
        // rare; no request ever does this).
        None => match &given {
            Some((_, value)) => store.find_contact(value).await?,
            None => None,
        },
    };
    let mut addresses: Vec<(&str, String)> = given.clone().into_iter().collect();
    if let Some(c) = &contact {
        for a in c.all_addresses() {
            addresses.extend(parse_address(a, region).ok());
        }
    }
    addresses.sort();
    addresses.dedup();
    if contact.is_none() && addresses.is_empty() {
        anyhow::bail!("no contact {who:?}, and it is not an email address or phone number");
    }
    let needle = given.as_ref().map_or(who.to_string(), |(_, value)| value.clone());
    let id = contact.as_ref().map(|c| c.id.0.clone()).unwrap_or(needle);
    let mut needles: Vec<String> = addresses.iter().map(|(_, v)| v.clone()).collect();
    needles.push(id.clone());
    let cfg = q.config();
    let keys = [
        cfg.scheduled_jobs_set(),
        cfg.active_jobs_list(),
        cfg.job_data_hash(),
        cfg.job_meta_hash(),
        cfg.done_jobs_set(),
        cfg.dead_jobs_set(),
        cfg.idempotency_key_set(),
    ];
    let erased = store.erase(&id, &needles, keys).await?;
    for (channel, value) in &addresses {
        store.unsuppress(channel, value).await?;
    }
    let hashes: Vec<String> = addresses.iter().map(|(ch, v)| address_hash(config.pepper(), ch, v)).collect();
    store.remember_forgotten(&hashes).await?;
    if a.json {
        print_json(&serde_json::json!({ "forgotten": true, "erased": erased, "hashes_kept": hashes.len() }))?;
    } else {
        println!(
            "forgotten: {} contact record, {} queued jobs, {} agenda items, {} delivery records, {} event records deleted; {} keyed hash(es) kept so they are never imported again",
            erased.contacts,
            erased.jobs,
            erased.agenda_items,
            erased.deliveries,
            erased.records,
            hashes.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
