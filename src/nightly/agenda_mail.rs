//! The agents' agenda by email (`[agenda] email_to`): after the run has opened the day's
//! items, each agent with an address gets the open items of their contacts due on or before
//! the run date — once per agent and date. What an email listed is what `agenda done
//! --all-shown --agent NAME` closes; each item carries its signed action links
//! ([`crate::agenda::links`]).

use crate::agenda::{self, AgendaItem};
use crate::compose;
use crate::render::RenderedEmail;
use crate::send::EmailSender;
use crate::store::Store;
use crate::workspace::Workspace;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Sends each agent their agenda for `date`; returns how many were sent.
pub(super) async fn send(ws: &Workspace, store: &Store, date: NaiveDate) -> anyhow::Result<u64> {
    let to = agenda::recipients(&ws.config);
    if to.is_empty() {
        return Ok(0);
    }
    let items = agenda::due(store.open_agenda().await?, date);
    let standings = store.agenda_standings(&items).await?;
    let mut items = agenda::rank(items, date, &standings);
    agenda::cap_calls(&mut items, ws.config.agenda.max_calls_per_day);
    // Agent → items; contacts without an agent (or with one not listed) go to "*".
    let mut by_agent: BTreeMap<&str, Vec<AgendaItem>> = BTreeMap::new();
    for item in items {
        let agent = to
            .keys()
            .find(|a| a.eq_ignore_ascii_case(&item.agent))
            .map(String::as_str)
            .unwrap_or("*");
        by_agent.entry(agent).or_default().push(item);
    }
    let sender = EmailSender::from_config(&ws.config).map_err(anyhow::Error::msg)?;
    let signer = crate::send::dkim::Signer::from_config(&ws.config).map_err(anyhow::Error::msg)?;
    let mut sent = 0;
    for (agent, items) in by_agent {
        let Some(address) = to.get(agent) else { continue };
        let marker = store.keys.agenda_mail(&date.to_string(), agent);
        if !store.try_lock(&marker, 40 * 86_400).await? {
            continue;
        }
        let addressee = agenda::email::Addressee {
            agent,
            lang: agenda::lang_of(&ws.config, agent),
            base_url: &ws.config.unsubscribe.base_url,
            secret: ws.config.unsubscribe_secret(),
        };
        let (subject, text, html) = agenda::email::to_email(date, &addressee, &items, ws.config.agenda.link_days);
        let email = RenderedEmail {
            subject,
            html,
            text,
            template: "(agenda)".into(),
        };
        let key = format!("agenda|{agent}|{date}");
        let to_name = (agent != "*").then(|| agent.to_string());
        let sending = match compose::internal_email(ws, email, address, to_name, &key) {
            Ok(composed) => sender.send(composed, signer.as_ref()).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match sending {
            Ok(()) => {
                // `agenda done --all-shown --agent NAME` closes what this email listed.
                let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
                store.remember_shown(&agenda::viewer(Some(agent)), &ids).await?;
                sent += 1;
            }
            Err(e) => {
                // Let the next run (or a rerun) try again.
                store.unlock(&marker).await?;
                tracing::error!(agent, error = %e, "the agenda email was not sent");
            }
        }
    }
    Ok(sent)
}
