//! `nurture forget CONTACT_ID|EMAIL|PHONE`: erase a person (right to erasure). Keeps only
//! keyed hashes of their addresses so a later import never brings them back.

use super::{connect, print_json, queue};
use crate::config::Config;
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
    let region = &config.contacts.default_region;
    let Some(forgotten) = crate::forget::forget(&store, &q, config.pepper(), region, &a.who).await? else {
        anyhow::bail!("no contact {:?}, and it is not an email address or phone number", a.who.trim());
    };
    let (erased, hashes) = (forgotten.erased, forgotten.hashes);
    if a.json {
        print_json(&serde_json::json!({ "forgotten": true, "erased": erased, "hashes_kept": hashes }))?;
    } else {
        outln!(
            "forgotten: {} contact record, {} queued jobs, {} agenda items, {} delivery records, {} event records deleted; {} keyed hash(es) kept so they are never imported again",
            erased.contacts,
            erased.jobs,
            erased.agenda_items,
            erased.deliveries,
            erased.records,
            hashes
        );
    }
    Ok(ExitCode::SUCCESS)
}
