//! `nurture export`: every contact as CSV, with `suppressed_email` / `suppressed_sms`
//! columns so a list taken elsewhere keeps the opt-outs. Cells a spreadsheet would run as a
//! formula are neutralized (`contacts::cells`).

use super::connect;
use crate::config::Config;
use crate::contacts::cells::neutralize;
use futures::TryStreamExt;
use std::collections::BTreeSet;
use std::process::ExitCode;

pub(super) async fn export(config: Config) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let mut contacts = Vec::new();
    let mut columns: BTreeSet<String> = BTreeSet::new();
    let mut pages = std::pin::pin!(store.contact_pages(5000));
    while let Some(page) = pages.try_next().await? {
        for c in &page {
            columns.extend(c.fields.keys().cloned());
        }
        contacts.extend(page);
    }
    contacts.sort_by(|a, b| a.id.cmp(&b.id));
    let known: Vec<String> = crate::contacts::KNOWN_COLUMNS.iter().map(|s| s.to_string()).collect();
    let mut order: Vec<String> = known.iter().filter(|c| columns.contains(*c)).cloned().collect();
    order.extend(columns.iter().filter(|c| !known.contains(c)).cloned());
    let mut w = csv::Writer::from_writer(std::io::stdout());
    let mut head = order.clone();
    head.extend(["suppressed_email".to_string(), "suppressed_sms".to_string()]);
    w.write_record(&head)?;
    for chunk in contacts.chunks(1000) {
        let emails: Vec<String> = chunk.iter().map(|c| c.email().unwrap_or("").to_string()).collect();
        let phones: Vec<String> = chunk.iter().map(|c| c.phone().unwrap_or("").to_string()).collect();
        let se = store.suppressed_among("email", &emails).await?;
        let ss = store.suppressed_among("sms", &phones).await?;
        for ((c, e), s) in chunk.iter().zip(se).zip(ss) {
            let mut row: Vec<String> = order.iter().map(|k| neutralize(c.get(k).unwrap_or("")).into_owned()).collect();
            row.push(if e && c.email().is_some() { "yes".into() } else { String::new() });
            row.push(if s && c.phone().is_some() { "yes".into() } else { String::new() });
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(ExitCode::SUCCESS)
}
