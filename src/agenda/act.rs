//! What an agent's action does to an agenda item and its contact — the same from `nurture
//! agenda done|answered|no-answer|not-interested` and from the links of the agenda email:
//! **Done** closes the item; **Answered** closes it and records a response (the contact's
//! plan pauses or follows up, `new` moves to `contacted`); **Not interested** closes it and
//! moves the contact to `lost` with the reason `not interested`; **No answer** notes
//! `no_answer` in the history and leaves the item open, so it rolls over. An item closes once:
//! whatever comes second (another link, the CLI) finds it closed and changes nothing.

use super::AgendaItem;
use super::links::Action;
use crate::contacts::pipeline::Pipeline;
use crate::events::{self, ContactEvent, EventError, Kind};
use crate::history::Event;
use crate::store::Store;
use chrono::NaiveDate;

/// The reason a **Not interested** gives the move to `lost`.
pub const NOT_INTERESTED: &str = "not interested";

/// Where and when an action happens.
pub struct Acting<'a> {
    /// Redis.
    pub store: &'a Store,
    /// The pipeline's stages (`[pipeline] stages`).
    pub pipeline: Pipeline<'a>,
    /// The region of phone numbers without a country code (`[contacts] default_region`).
    pub region: &'a str,
    /// Now (RFC 3339), for the history.
    pub now: String,
    /// The sender's today, for the response and the stage move.
    pub today: NaiveDate,
}

/// What an action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The item is closed (and the response or the move recorded).
    Closed,
    /// `no_answer` is in the history; the item stays open.
    NotedNoAnswer,
    /// The item was not open any more: nothing changed.
    NotOpen,
}

impl<'a> Acting<'a> {
    /// Actions on `store` with `config`'s pipeline and region, at `now` on the sender's `today`.
    pub fn new(store: &'a Store, config: &'a crate::config::Config, now: &crate::clock::Clock, today: NaiveDate) -> Acting<'a> {
        Acting {
            store,
            pipeline: Pipeline::new(&config.pipeline.stages),
            region: &config.contacts.default_region,
            now: now.now().to_rfc3339(),
            today,
        }
    }

    /// Does `action` to `item` (an open item as read); `note` goes into the history.
    pub async fn act(&self, item: &AgendaItem, action: Action, note: Option<&str>) -> Result<Outcome, EventError> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if action == Action::NoAnswer {
            if !self.store.is_agenda_open(&item.id).await? {
                return Ok(Outcome::NotOpen);
            }
            let event = Event::touch(&self.now, "no_answer", &item.plan, &item.touch, note.unwrap_or(&item.channel));
            self.store.push_history(&[(item.contact_id.clone(), event)]).await?;
            return Ok(Outcome::NotedNoAnswer);
        }
        let what = match (action, note) {
            (_, Some(n)) => n.to_string(),
            (Action::Done, None) => item.channel.clone(),
            (other, None) => format!("{}: {}", item.channel, other.label("en").to_lowercase()),
        };
        if action == Action::NotInterested {
            // Before the item closes: a pipeline without `lost` leaves it open.
            self.pipeline.resolve("lost").map_err(EventError::BadStage)?;
        }
        let mut done = item.clone();
        done.done_at = Some(self.now.clone());
        let event = Event::touch(&self.now, "done", &item.plan, &item.touch, what);
        let json = serde_json::to_string(&done).expect("an agenda item is plain strings");
        if !self.store.close_agenda_item(&item.id, &json, &item.contact_id, &event).await? {
            return Ok(Outcome::NotOpen);
        }
        let kind = match action {
            Action::Answered => Kind::Response,
            Action::NotInterested => Kind::Stage {
                stage: "lost".into(),
                reason: Some(NOT_INTERESTED.into()),
            },
            Action::Done | Action::NoAnswer => return Ok(Outcome::Closed),
        };
        let e = ContactEvent {
            kind,
            contact: item.contact_id.clone(),
            channel: Some(item.channel.clone()),
            note: note.map(str::to_string),
            date: Some(self.today),
        };
        events::record(self.store, &e, self.today, self.region, &self.pipeline).await?;
        Ok(Outcome::Closed)
    }
}
