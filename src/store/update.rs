//! Contact writes that never lose each other's changes, and the address indexes kept with
//! them. Every writer (import, the nightly run's moves, responses and deals, `contact move`)
//! says *what* it changes as a function of the stored contact; [`Store::update_contacts`]
//! reads, applies it and writes back only if nobody wrote the contact in between
//! (compare-and-set in one script), else reads again and re-applies. The email and phone
//! indexes (address → contact id) are updated in the same script, so an address that left a
//! contact no longer points at it.

use super::{Store, StoreError};
use crate::contacts::Contact;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::LazyLock;

/// How many times a contended contact is read again before giving up.
const ROUNDS: usize = 50;

/// KEYS: contacts, phones, emails, the forgotten set. ARGV: eight per contact — id, expected
/// JSON ('' = absent), new JSON, old phone, new phone, old email, new email (an index entry is
/// written only when the address changed: every write keeps the indexes, so an unchanged one
/// is already there), and the forgotten-hashes of the new contact's addresses, space
/// separated ('' = not checked). Returns 1 (written), 0 (someone wrote it first) or 2 (one of
/// its addresses was forgotten: not written) per contact. One call per batch: the per-call
/// overhead of a script is paid once for a thousand contacts. The forgotten check sits in the
/// same script as the write, so a `forget` (which marks before it erases) cannot slip between.
static SWAP: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r#"
local out = {}
local function reindex(key, id, old, new)
  if old ~= '' and old ~= new and redis.call('HGET', key, old) == id then
    redis.call('HDEL', key, old)
  end
  if new ~= '' and new ~= old then redis.call('HSET', key, new, id) end
end
local function forgotten(hashes)
  for h in string.gmatch(hashes, '%S+') do
    if redis.call('SISMEMBER', KEYS[4], h) == 1 then return true end
  end
  return false
end
for i = 1, #ARGV, 8 do
  local id = ARGV[i]
  local cur = redis.call('HGET', KEYS[1], id)
  if (cur or '') ~= ARGV[i + 1] then
    out[#out + 1] = 0
  elseif forgotten(ARGV[i + 7]) then
    out[#out + 1] = 2
  else
    redis.call('HSET', KEYS[1], id, ARGV[i + 2])
    reindex(KEYS[2], id, ARGV[i + 3], ARGV[i + 4])
    reindex(KEYS[3], id, ARGV[i + 5], ARGV[i + 6])
    out[#out + 1] = 1
  end
end
return out
"#,
    )
});

/// The forgotten-hashes of every address of `contact`, space separated.
fn forgotten_hashes(pepper: &str, contact: &Contact) -> String {
    contact
        .all_addresses()
        .filter_map(|a| {
            let channel = if a.contains('@') { "email" } else { "sms" };
            (!a.is_empty()).then(|| crate::compliance::erasure::address_hash(pepper, channel, a))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an import reads about a chunk of rows ([`Store::intake_reads`]).
#[derive(Debug, Default)]
pub struct IntakeReads {
    /// Per address hash (flattened, in row order): whether that person asked to be forgotten.
    pub forgotten: Vec<bool>,
    /// Per row: the stored JSON of the row's own id.
    pub stored: Vec<Option<String>>,
    /// Per row: the contact its email belongs to.
    pub email_owners: Vec<Option<String>>,
    /// Per row: the contact its phone belongs to.
    pub phone_owners: Vec<Option<String>>,
    /// Per row: its email is on the suppression list.
    pub suppressed: Vec<bool>,
}

impl Store {
    /// Applies `change` to each stored contact of `ids` (`None` when there is none) and writes
    /// what it returns (`None`: leave it as it is), atomically per contact: a contact written
    /// by someone else meanwhile is read again and `change` applied again to the new value.
    /// Returns the contacts as written.
    pub async fn update_contacts<F>(&self, ids: &[String], change: F) -> Result<Vec<Contact>, StoreError>
    where
        F: FnMut(&str, Option<Contact>) -> Option<Contact>,
    {
        self.update_contacts_as_read(ids, HashMap::new(), change).await
    }

    /// [`Store::update_contacts`] starting from values the caller has just read
    /// ([`Store::raw_contacts`]: id → stored JSON, `None` when absent) instead of reading them
    /// again; the compare-and-set still catches a write made since.
    pub async fn update_contacts_as_read<F>(
        &self,
        ids: &[String],
        read: HashMap<String, Option<String>>,
        change: F,
    ) -> Result<Vec<Contact>, StoreError>
    where
        F: FnMut(&str, Option<Contact>) -> Option<Contact>,
    {
        Ok(self.swap_contacts(ids, read, None, change).await?.0)
    }

    /// [`Store::update_contacts_as_read`] for writers that may create a contact (imports,
    /// leads): a contact any of whose addresses was forgotten (hashed with `pepper`) is not
    /// written, checked in the same atomic step as the write. Returns the contacts written and
    /// the ids refused as forgotten.
    pub async fn update_contacts_unless_forgotten<F>(
        &self,
        ids: &[String],
        read: HashMap<String, Option<String>>,
        pepper: &str,
        change: F,
    ) -> Result<(Vec<Contact>, Vec<String>), StoreError>
    where
        F: FnMut(&str, Option<Contact>) -> Option<Contact>,
    {
        self.swap_contacts(ids, read, Some(pepper), change).await
    }

    async fn swap_contacts<F>(
        &self,
        ids: &[String],
        mut read: HashMap<String, Option<String>>,
        pepper: Option<&str>,
        mut change: F,
    ) -> Result<(Vec<Contact>, Vec<String>), StoreError>
    where
        F: FnMut(&str, Option<Contact>) -> Option<Contact>,
    {
        let mut written = Vec::new();
        let mut refused = Vec::new();
        let mut pending: Vec<String> = ids.to_vec();
        pending.dedup();
        for _ in 0..ROUNDS {
            if pending.is_empty() {
                return Ok((written, refused));
            }
            let unread: Vec<String> = pending.iter().filter(|id| !read.contains_key(*id)).cloned().collect();
            let raws = self.raw_contacts(&unread).await?;
            read.extend(unread.into_iter().zip(raws));
            // Taken out: a contact retried in the next round is read again.
            let raws: Vec<Option<String>> = pending.iter().map(|id| read.remove(id).flatten()).collect();
            let mut tries: Vec<(String, Contact)> = Vec::new();
            let mut swap = SWAP.prepare_invoke();
            swap.key(self.keys.contacts())
                .key(self.keys.phones())
                .key(self.keys.emails())
                .key(self.keys.forgotten());
            for (id, raw) in pending.iter().zip(raws) {
                let current = raw.as_deref().map(|r| self.decode(r)).transpose()?;
                let old = current.as_ref().map(|c| (c.phone().unwrap_or(""), c.email().unwrap_or("")));
                let (old_phone, old_email) = old.map(|(p, e)| (p.to_string(), e.to_string())).unwrap_or_default();
                let Some(new) = change(id, current) else { continue };
                swap.arg(id)
                    .arg(raw.unwrap_or_default())
                    .arg(serde_json::to_string(&new).unwrap_or_default())
                    .arg(old_phone)
                    .arg(new.phone().unwrap_or(""))
                    .arg(old_email)
                    .arg(new.email().unwrap_or(""))
                    .arg(pepper.map(|p| forgotten_hashes(p, &new)).unwrap_or_default());
                tries.push((id.clone(), new));
            }
            let swapped: Vec<i64> = if tries.is_empty() {
                Vec::new()
            } else {
                swap.invoke_async(&mut self.conn.clone()).await?
            };
            pending.clear();
            for ((id, contact), ok) in tries.into_iter().zip(swapped) {
                match ok {
                    1 => written.push(contact),
                    2 => refused.push(id),
                    _ => pending.push(id),
                }
            }
        }
        if pending.is_empty() {
            return Ok((written, refused));
        }
        Err(StoreError::Contended {
            key: format!("{} {}", self.keys.contacts(), pending.join(", ")),
        })
    }

    /// The stored JSON of each of `ids` (`None`: no such contact), undecoded, in one round trip:
    /// for [`Store::update_contacts_as_read`].
    pub async fn raw_contacts(&self, ids: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(redis::cmd("HMGET")
            .arg(self.keys.contacts())
            .arg(ids)
            .query_async(&mut self.conn.clone())
            .await?)
    }

    /// What an import reads about a chunk of rows, in one round trip: which of `hashes` are
    /// forgotten people, the stored JSON of each of `ids`, the owners of `emails` and
    /// `phones` in the address indexes, and which `emails` are suppressed ('' = none: reads
    /// nothing). All of `ids`, `emails` and `phones` have one entry per row.
    pub async fn intake_reads(
        &self,
        hashes: &[&String],
        ids: &[&str],
        emails: &[&str],
        phones: &[&str],
    ) -> Result<IntakeReads, StoreError> {
        if ids.is_empty() {
            return Ok(IntakeReads::default());
        }
        // '' (never a hash) after the hashes: SMISMEMBER needs one member at least.
        type Column = Vec<Option<String>>;
        let (mut forgotten, stored, email_owners, phone_owners, suppressed): (Vec<bool>, Column, Column, Column, Column) = redis::pipe()
            .cmd("SMISMEMBER")
            .arg(self.keys.forgotten())
            .arg(hashes)
            .arg("")
            .cmd("HMGET")
            .arg(self.keys.contacts())
            .arg(ids)
            .cmd("HMGET")
            .arg(self.keys.emails())
            .arg(emails)
            .cmd("HMGET")
            .arg(self.keys.phones())
            .arg(phones)
            .cmd("HMGET")
            .arg(self.keys.suppression("email"))
            .arg(emails)
            .query_async(&mut self.conn.clone())
            .await?;
        forgotten.pop();
        Ok(IntakeReads {
            forgotten,
            stored,
            email_owners,
            phone_owners,
            suppressed: suppressed.iter().map(Option::is_some).collect(),
        })
    }

    /// Builds the email and phone indexes if they are missing (a database from before they
    /// existed): one scan, once; every later contact write keeps them. `serve`, `import` and
    /// `forget` call it at their start, never a request. Returns how many entries were added.
    pub async fn ensure_address_indexes(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let phones = !conn.exists::<_, bool>(self.keys.phones_built()).await? && !conn.exists::<_, bool>(self.keys.phones()).await?;
        let emails = !conn.exists::<_, bool>(self.keys.emails_built()).await?;
        if !phones && !emails {
            return Ok(0);
        }
        let (mut pages, mut indexed) = (std::pin::pin!(self.contact_pages(5000)), 0u64);
        while let Some(page) = futures::TryStreamExt::try_next(&mut pages).await? {
            let mut pipe = redis::pipe();
            for c in &page {
                if let Some(p) = c.phone().filter(|_| phones) {
                    pipe.hset(self.keys.phones(), p, &c.id.0).ignore();
                    indexed += 1;
                }
                if let Some(e) = c.email().filter(|_| emails) {
                    pipe.hset_nx(self.keys.emails(), e, &c.id.0).ignore();
                    indexed += 1;
                }
            }
            if pipe.cmd_iter().next().is_some() {
                let _: () = pipe.query_async(&mut conn).await?;
            }
        }
        let _: () = redis::pipe()
            .set(self.keys.phones_built(), "1")
            .ignore()
            .set(self.keys.emails_built(), "1")
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(indexed)
    }
}
