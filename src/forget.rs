//! Forgetting a person (right to erasure): their contact record, queued jobs (webhook events
//! included), agenda items, ledger entries and records are deleted, their suppressions lifted,
//! and keyed hashes of their addresses kept ([`crate::compliance::erasure`]) so that no import
//! brings them back; every webhook gets an `erased` event with their id only. Used by
//! `nurture forget`, and by `nurture restore` for people an archive still holds but who were
//! forgotten while it was written.

use crate::compliance::erasure::address_hash;
use crate::contacts::parse_address;
use crate::queue::Queue;
use crate::store::erase::Erased;
use crate::store::{Store, StoreError};

/// What forgetting removed.
#[derive(Debug)]
pub struct Forgotten {
    /// Records deleted.
    pub erased: Erased,
    /// Keyed hashes kept.
    pub hashes: usize,
}

/// Forgets `who` (a contact id, email address or phone number). `None`: no such contact, and
/// `who` is not an address either (nothing to remember).
pub async fn forget(store: &Store, queue: &Queue, pepper: &str, region: &str, who: &str) -> Result<Option<Forgotten>, StoreError> {
    let who = who.trim();
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
        return Ok(None);
    }
    let needle = given.as_ref().map_or(who.to_string(), |(_, value)| value.clone());
    let id = contact.as_ref().map(|c| c.id.0.clone()).unwrap_or(needle);
    let mut needles: Vec<String> = addresses.iter().map(|(_, v)| v.clone()).collect();
    needles.push(id.clone());
    let cfg = queue.config();
    let keys = [
        cfg.scheduled_jobs_set(),
        cfg.active_jobs_list(),
        cfg.job_data_hash(),
        cfg.job_meta_hash(),
        cfg.done_jobs_set(),
        cfg.dead_jobs_set(),
        cfg.idempotency_key_set(),
    ];
    // The mark first: every writer that could bring the person back checks it in the same
    // atomic step as its write, so from here on nothing re-creates them.
    let hashes: Vec<String> = addresses.iter().map(|(ch, v)| address_hash(pepper, ch, v)).collect();
    store.remember_forgotten(&hashes).await?;
    let erased = store.erase(&id, &needles, keys).await?;
    for (channel, value) in &addresses {
        store.unsuppress(channel, value).await?;
    }
    if contact.is_some() {
        // After the sweep of the queue, so it is the one event of theirs that leaves.
        crate::webhooks::erased(store, &id).await?;
    }
    Ok(Some(Forgotten {
        erased,
        hashes: hashes.len(),
    }))
}

/// The keyed hashes of a contact's addresses (as [`forget`] keeps them).
pub fn hashes_of(contact: &crate::contacts::Contact, pepper: &str, region: &str) -> Vec<String> {
    contact
        .all_addresses()
        .filter_map(|a| parse_address(a, region).ok())
        .map(|(ch, v)| address_hash(pepper, ch, &v))
        .collect()
}
