//! What is kept about people besides their contact record: their history (capped lists of
//! events), the phone index inbound SMS use to find their sender, and the agenda — open items
//! that roll over from day to day until marked done.

use super::{Store, StoreError};
use crate::agenda::{AgendaItem, Standing};
use crate::contacts::Contact;
use crate::history::{Event, KEEP};
use redis::AsyncCommands;
use std::collections::HashMap;

static CLOSE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if redis.call('LPUSH', KEYS[3], ARGV[3]) > tonumber(ARGV[4]) then
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
end
return 1
"#,
    )
});

/// Pushes events onto history lists, trimming a list only when it outgrew the cap, and only
/// for contacts that exist (a writer that read a contact just before `forget` erased it leaves
/// no history behind). KEYS: the contacts hash, then the lists; ARGV: the cap, then a contact
/// id and an event per list. One call per thousand events instead of three commands each.
static PUSH: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
local keep = tonumber(ARGV[1])
for i = 2, #KEYS do
  local id, event = ARGV[2 * i - 2], ARGV[2 * i - 1]
  if redis.call('HEXISTS', KEYS[1], id) == 1 and redis.call('LPUSH', KEYS[i], event) > keep then
    redis.call('LTRIM', KEYS[i], 0, keep - 1)
  end
end
return 0
"#,
    )
});

impl Store {
    /// Adds events to the histories of contacts that exist (one round trip).
    pub async fn push_history(&self, events: &[(String, Event)]) -> Result<(), StoreError> {
        let lines: Vec<(&str, String)> = events.iter().map(|(id, e)| (id.as_str(), e.to_json())).collect();
        self.push_history_lines(&lines).await
    }

    /// [`Store::push_history`] of events already written as JSON: `(contact id, event)`.
    pub(crate) async fn push_history_lines<S: AsRef<str>>(&self, events: &[(&str, S)]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.load_script(&PUSH).ignore();
        let invocations: Vec<redis::ScriptInvocation<'_>> = events
            .chunks(1000)
            .map(|chunk| {
                let mut inv = PUSH.prepare_invoke();
                inv.key(self.keys.contacts()).arg(KEEP);
                for (contact_id, event) in chunk {
                    inv.key(self.keys.history(contact_id)).arg(*contact_id).arg(event.as_ref());
                }
                inv
            })
            .collect();
        for inv in &invocations {
            pipe.invoke_script(inv).ignore();
        }
        let _: () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// The last touch sent to each contact (its `sent` event, newest of the last 100 events).
    pub async fn last_touches(&self, contact_ids: &[&str]) -> Result<Vec<Option<Event>>, StoreError> {
        self.last_events(contact_ids, &["sent"]).await
    }

    /// Each contact's newest event about a touch whose name is one of `names`, among its last
    /// 100 events.
    pub async fn last_events(&self, contact_ids: &[&str], names: &[&str]) -> Result<Vec<Option<Event>>, StoreError> {
        if contact_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in contact_ids {
            pipe.lrange(self.keys.history(id), 0, 99);
        }
        let lists: Vec<Vec<String>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(lists
            .iter()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|j| serde_json::from_str::<Event>(j).ok())
                    .find(|e| names.contains(&e.event.as_str()) && e.touch.is_some())
            })
            .collect())
    }

    /// Takes `count` turns of an `[assign]` rule's rotation; returns the last one taken.
    pub async fn take_turns(&self, rule: &str, count: u64) -> Result<u64, StoreError> {
        Ok(self.conn.clone().incr(self.keys.assign_turn(rule), count).await?)
    }

    /// A contact's history, oldest first (events that do not decode are skipped).
    pub async fn history(&self, contact_id: &str) -> Result<Vec<Event>, StoreError> {
        let raw: Vec<String> = self.conn.clone().lrange(self.keys.history(contact_id), 0, -1).await?;
        Ok(raw.iter().rev().filter_map(|j| serde_json::from_str(j).ok()).collect())
    }

    /// The histories of `contact_ids` (each oldest first), in one round trip.
    pub async fn histories(&self, contact_ids: &[&str]) -> Result<Vec<Vec<Event>>, StoreError> {
        if contact_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in contact_ids {
            pipe.lrange(self.keys.history(id), 0, -1);
        }
        let lists: Vec<Vec<String>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(lists
            .into_iter()
            .map(|raw| raw.iter().rev().filter_map(|j| serde_json::from_str(j).ok()).collect())
            .collect())
    }

    /// The contact with this email address, through the email index (kept by every contact
    /// write; [`Store::ensure_address_indexes`] builds it for an older store). Never scans.
    pub async fn contact_by_email(&self, email: &str) -> Result<Option<Contact>, StoreError> {
        let id: Option<String> = self.conn.clone().hget(self.keys.emails(), email).await?;
        let found = match id {
            Some(id) => self.contact(&id).await?,
            None => self.contact(email).await?,
        };
        Ok(found.filter(|c| c.email() == Some(email)))
    }

    /// The contact with this E.164 number, through the phone index (kept by every contact
    /// write; [`Store::ensure_address_indexes`] builds it for an older store). Never scans.
    pub async fn contact_by_phone(&self, e164: &str) -> Result<Option<Contact>, StoreError> {
        let mut conn = self.conn.clone();
        let id: Option<String> = conn.hget(self.keys.phones(), e164).await?;
        match id {
            Some(id) => Ok(self.contact(&id).await?.filter(|c| c.phone() == Some(e164))),
            None => self.contact(e164).await,
        }
    }

    /// The contact someone names by id, email address or phone number (normalized as `import`
    /// normalizes them; through the email and phone indexes). No scan.
    pub async fn lookup(&self, who: &str, default_region: &str) -> Result<Option<Contact>, StoreError> {
        if let Some(c) = self.contact(who.trim()).await? {
            return Ok(Some(c));
        }
        match crate::contacts::parse_address(who, default_region) {
            Ok(("sms", phone)) => self.contact_by_phone(&phone).await,
            Ok((_, email)) => self.contact_by_email(&email).await,
            Err(_) => Ok(None),
        }
    }

    /// Where the contacts of `items` stand now: responded during their current plan (agenda
    /// priority), their stage, and their last touch (sent, or an agenda item done).
    pub async fn agenda_standings(&self, items: &[AgendaItem]) -> Result<HashMap<String, Standing>, StoreError> {
        let mut unique: Vec<String> = items.iter().map(|i| i.contact_id.clone()).collect();
        unique.sort();
        unique.dedup();
        let contacts = self.contacts(&unique).await?;
        let ids: Vec<&str> = unique.iter().map(String::as_str).collect();
        let touches = self.last_events(&ids, &["sent", "done"]).await?;
        Ok(contacts
            .into_iter()
            .zip(touches)
            .filter_map(|(contact, touch)| {
                let c = contact?;
                let standing = Standing {
                    responder: c.responded_on.is_some_and(|r| c.enrolled_on().is_none_or(|e| r >= e)),
                    stage: crate::contacts::pipeline::Pipeline::stage_of(&c).to_string(),
                    last_touch: touch.map(|e| crate::agenda::touch_line(&e)).unwrap_or_default(),
                    agent: c.get("agent").unwrap_or_default().to_string(),
                };
                Some((c.id.0, standing))
            })
            .collect())
    }

    /// Remembers the ids of the agenda items just shown to `viewer`, for `agenda done
    /// --all-shown` (kept 40 days).
    pub async fn remember_shown(&self, viewer: &str, ids: &[&str]) -> Result<(), StoreError> {
        let key = self.keys.agenda_shown(viewer);
        let mut pipe = redis::pipe();
        pipe.atomic().del(&key).ignore();
        if !ids.is_empty() {
            pipe.sadd(&key, ids).ignore().expire(&key, 40 * 86_400).ignore();
        }
        let _: () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// The ids of the agenda items last shown to `viewer`.
    pub async fn shown(&self, viewer: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.conn.clone().smembers(self.keys.agenda_shown(viewer)).await?)
    }

    /// The open agenda items (an item that does not decode is skipped).
    pub async fn open_agenda(&self) -> Result<Vec<AgendaItem>, StoreError> {
        let mut items = self.agenda_items(&self.keys.agenda_open()).await?;
        crate::agenda::assign_codes(&mut items);
        Ok(items)
    }

    /// The open agenda item `id`, if it is open (and decodes).
    pub async fn open_agenda_item(&self, id: &str) -> Result<Option<AgendaItem>, StoreError> {
        let raw: Option<String> = self.conn.clone().hget(self.keys.agenda_open(), id).await?;
        Ok(raw.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// True while the agenda item `id` is open.
    pub async fn is_agenda_open(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.clone().hexists(self.keys.agenda_open(), id).await?)
    }

    /// How many agenda items are open.
    pub async fn open_agenda_count(&self) -> Result<u64, StoreError> {
        Ok(self.conn.clone().hlen(self.keys.agenda_open()).await?)
    }

    /// The items marked done.
    pub async fn done_agenda(&self) -> Result<Vec<AgendaItem>, StoreError> {
        self.agenda_items(&self.keys.agenda_done()).await
    }

    async fn agenda_items(&self, key: &str) -> Result<Vec<AgendaItem>, StoreError> {
        let raw: Vec<String> = self.conn.clone().hvals(key).await?;
        Ok(raw.iter().filter_map(|j| serde_json::from_str(j).ok()).collect())
    }

    /// Moves an open item to the done ones and notes it in the contact's history, atomically;
    /// false if it was not open.
    pub async fn close_agenda_item(&self, id: &str, done_json: &str, contact_id: &str, event: &Event) -> Result<bool, StoreError> {
        let closed: i64 = CLOSE
            .key(self.keys.agenda_open())
            .key(self.keys.agenda_done())
            .key(self.keys.history(contact_id))
            .arg(id)
            .arg(done_json)
            .arg(event.to_json())
            .arg(KEEP)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(closed == 1)
    }
}
