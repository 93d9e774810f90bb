//! Contact writes that never lose each other's changes, and the address indexes kept with
//! them. Every writer (import, the nightly run's moves, responses and deals, `contact move`)
//! says *what* it changes as a function of the stored contact; [`Store::update_contacts`]
//! reads, applies it and writes back only if nobody wrote the contact in between
//! (compare-and-set in one script), else reads again and re-applies. The email and phone
//! indexes (address → contact id) are updated in the same script, so an address that left a
//! contact no longer points at it.

use super::{Store, StoreError};
use crate::contacts::Contact;
use crate::history::KEEP;
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

/// The forgotten-hashes of every address of `contact`.
fn forgotten_hashes(pepper: &str, contact: &Contact) -> Vec<String> {
    contact
        .all_addresses()
        .filter_map(|a| {
            let channel = if a.contains('@') { "email" } else { "sms" };
            (!a.is_empty()).then(|| crate::compliance::erasure::address_hash(pepper, channel, a))
        })
        .collect()
}

/// Rounds that write through a `WATCH`ed transaction before the script takes over (a
/// contact written by others again and again).
const WATCHED_ROUNDS: usize = 3;

/// One contact a write tries: the JSON it expects stored (`None`: absent), the one it writes,
/// its addresses before, the forgotten-hashes of its new addresses, and the history events
/// (JSON, oldest first) written with it.
struct Try {
    id: String,
    expected: Option<String>,
    json: String,
    old_phone: String,
    old_email: String,
    hashes: Vec<String>,
    history: Vec<String>,
    contact: Contact,
}

impl Try {
    fn new_phone(&self) -> &str {
        self.contact.phone().unwrap_or("")
    }

    fn new_email(&self) -> &str {
        self.contact.email().unwrap_or("")
    }
}

/// What became of one contact of a write.
enum Swapped {
    Written,
    /// One of its addresses was forgotten: not written.
    Forgotten,
    /// Written by someone else first: tried again on the value read (`Some`: the one read
    /// under `WATCH`; `None`: read it again).
    Again(Option<Option<String>>),
}

/// `true` when an index entry for `old` must go (the contact's address changed from it).
fn moves(old: &str, new: &str) -> bool {
    !old.is_empty() && old != new
}

/// The changes a batch makes to an address index (address → contact id), in the order of its
/// contacts, over the owners read of the addresses that move: what the script does one
/// contact at a time, as one `HSET` and one `HDEL`.
struct IndexEdits<'a> {
    owners: HashMap<&'a str, Option<&'a str>>,
    edits: HashMap<&'a str, Option<&'a str>>,
}

impl<'a> IndexEdits<'a> {
    fn read(addresses: &[&'a str], owners: &'a [Option<String>]) -> Self {
        IndexEdits {
            owners: addresses.iter().zip(owners).map(|(a, o)| (*a, o.as_deref())).collect(),
            edits: HashMap::new(),
        }
    }

    fn owner(&self, address: &str) -> Option<&'a str> {
        match self.edits.get(address) {
            Some(edited) => *edited,
            None => self.owners.get(address).copied().flatten(),
        }
    }

    /// Contact `id`'s address went from `old` to `new` ('' = none): the entry of `old` goes
    /// if it still names `id`, `new` names `id`.
    fn reindex(&mut self, id: &'a str, old: &'a str, new: &'a str) {
        if moves(old, new) && self.owner(old) == Some(id) {
            self.edits.insert(old, None);
        }
        if !new.is_empty() && new != old {
            self.edits.insert(new, Some(id));
        }
    }

    fn write(self, pipe: &mut redis::Pipeline, key: &str) {
        let set: Vec<(&str, &str)> = self.edits.iter().filter_map(|(a, id)| id.map(|id| (*a, id))).collect();
        let gone: Vec<&str> = self.edits.iter().filter(|(_, id)| id.is_none()).map(|(a, _)| *a).collect();
        if !set.is_empty() {
            pipe.hset_multiple(key, &set).ignore();
        }
        if !gone.is_empty() {
            pipe.hdel(key, gone).ignore();
        }
    }
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
        Ok(self.swap_contacts(ids, read, None, change, &|_| Vec::new()).await?.0)
    }

    /// [`Store::update_contacts_as_read`] for writers that may create a contact (imports,
    /// leads): a contact any of whose addresses was forgotten (hashed with `pepper`) is not
    /// written, checked in the same atomic step as the write. `history` names the events (JSON)
    /// to push onto the history of each contact written, as its last `change` left it: they
    /// are written with it. Returns the contacts written and the ids refused as forgotten.
    pub async fn update_contacts_unless_forgotten<F, H>(
        &self,
        ids: &[String],
        read: HashMap<String, Option<String>>,
        pepper: &str,
        change: F,
        history: H,
    ) -> Result<(Vec<Contact>, Vec<String>), StoreError>
    where
        F: FnMut(&str, Option<Contact>) -> Option<Contact>,
        H: Fn(&str) -> Vec<String> + Sync,
    {
        self.swap_contacts(ids, read, Some(pepper), change, &history).await
    }

    async fn swap_contacts<F>(
        &self,
        ids: &[String],
        mut read: HashMap<String, Option<String>>,
        pepper: Option<&str>,
        mut change: F,
        history: &(dyn Fn(&str) -> Vec<String> + Sync),
    ) -> Result<(Vec<Contact>, Vec<String>), StoreError>
    where
        F: FnMut(&str, Option<Contact>) -> Option<Contact>,
    {
        let mut written = Vec::new();
        let mut refused = Vec::new();
        let mut pending: Vec<String> = ids.to_vec();
        pending.dedup();
        for round in 0..ROUNDS {
            if pending.is_empty() {
                return Ok((written, refused));
            }
            let unread: Vec<String> = pending.iter().filter(|id| !read.contains_key(*id)).cloned().collect();
            let raws = self.raw_contacts(&unread).await?;
            read.extend(unread.into_iter().zip(raws));
            // Taken out: a contact retried in the next round is read again.
            let raws: Vec<Option<String>> = pending.iter().map(|id| read.remove(id).flatten()).collect();
            let mut tries: Vec<Try> = Vec::new();
            for (id, raw) in pending.iter().zip(raws) {
                let current = raw.as_deref().map(|r| self.decode(r)).transpose()?;
                let (old_phone, old_email) = current
                    .as_ref()
                    .map(|c| (c.phone().unwrap_or("").to_string(), c.email().unwrap_or("").to_string()))
                    .unwrap_or_default();
                let Some(new) = change(id, current) else { continue };
                tries.push(Try {
                    id: id.clone(),
                    expected: raw,
                    json: serde_json::to_string(&new).unwrap_or_default(),
                    old_phone,
                    old_email,
                    hashes: pepper.map(|p| forgotten_hashes(p, &new)).unwrap_or_default(),
                    history: history(id),
                    contact: new,
                });
            }
            let swapped = if tries.is_empty() {
                Vec::new()
            } else if round < WATCHED_ROUNDS
                && let Some(outcome) = self.swap_watched(&tries).await
            {
                outcome
            } else {
                self.swap_scripted(&tries).await?
            };
            pending.clear();
            for (t, ok) in tries.into_iter().zip(swapped) {
                match ok {
                    Swapped::Written => written.push(t.contact),
                    Swapped::Forgotten => refused.push(t.id),
                    Swapped::Again(fresh) => {
                        if let Some(fresh) = fresh {
                            read.insert(t.id.clone(), fresh);
                        }
                        pending.push(t.id);
                    }
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

    /// Writes `tries` in one `WATCH`ed transaction on the private connection: the stored
    /// values, the forgotten set and the owners of the addresses that move are read under
    /// `WATCH`, and the writes (contacts, index entries, history) go in one `MULTI`…`EXEC`
    /// that Redis refuses if any of those keys was written in between. Native commands with
    /// many arguments each, instead of a script's call per contact: about half the server's
    /// time. `None` when the connection failed (the caller goes on with the script through
    /// the shared connection, which follows a failover).
    async fn swap_watched(&self, tries: &[Try]) -> Option<Vec<Swapped>> {
        let mut tx = match self.conn.transactions().await {
            Ok(tx) => tx,
            Err(e) => {
                tracing::debug!(error = %e, "no private connection; contact writes go through the script");
                return None;
            }
        };
        match self.swap_on(tx.connection(), tries).await {
            Ok(outcome) => Some(outcome),
            Err(e) => {
                tracing::debug!(error = %e, "a watched contact write failed; the script writes it");
                tx.drop_connection();
                None
            }
        }
    }

    async fn swap_on(&self, conn: &mut redis::aio::MultiplexedConnection, tries: &[Try]) -> Result<Vec<Swapped>, redis::RedisError> {
        let k = &self.keys;
        let ids: Vec<&str> = tries.iter().map(|t| t.id.as_str()).collect();
        let hashes: Vec<&str> = tries.iter().flat_map(|t| t.hashes.iter().map(String::as_str)).collect();
        let old_phones: Vec<&str> = tries
            .iter()
            .filter(|t| moves(&t.old_phone, t.new_phone()))
            .map(|t| t.old_phone.as_str())
            .collect();
        let old_emails: Vec<&str> = tries
            .iter()
            .filter(|t| moves(&t.old_email, t.new_email()))
            .map(|t| t.old_email.as_str())
            .collect();
        type Column = Vec<Option<String>>;
        // '' after each list: never a field or member, and each command needs one at least.
        let (stored, forgotten, phone_owners, email_owners): (Column, Vec<bool>, Column, Column) = redis::pipe()
            .cmd("WATCH")
            .arg(k.contacts())
            .arg(k.phones())
            .arg(k.emails())
            .arg(k.forgotten())
            .ignore()
            .cmd("HMGET")
            .arg(k.contacts())
            .arg(&ids)
            .cmd("SMISMEMBER")
            .arg(k.forgotten())
            .arg(&hashes)
            .arg("")
            .cmd("HMGET")
            .arg(k.phones())
            .arg(&old_phones)
            .arg("")
            .cmd("HMGET")
            .arg(k.emails())
            .arg(&old_emails)
            .arg("")
            .query_async(conn)
            .await?;
        let forgotten: std::collections::HashSet<&str> = hashes.iter().zip(&forgotten).filter(|(_, f)| **f).map(|(h, _)| *h).collect();
        let mut phones = IndexEdits::read(&old_phones, &phone_owners);
        let mut emails = IndexEdits::read(&old_emails, &email_owners);
        let mut seen = std::collections::HashSet::new();
        let mut contacts: Vec<(&str, &str)> = Vec::new();
        let mut exec = redis::pipe();
        exec.atomic();
        let mut outcome = Vec::with_capacity(tries.len());
        for (t, now) in tries.iter().zip(stored) {
            if !seen.insert(t.id.as_str()) || now != t.expected {
                outcome.push(Swapped::Again(Some(now)));
            } else if t.hashes.iter().any(|h| forgotten.contains(h.as_str())) {
                outcome.push(Swapped::Forgotten);
            } else {
                contacts.push((&t.id, &t.json));
                phones.reindex(&t.id, &t.old_phone, t.new_phone());
                emails.reindex(&t.id, &t.old_email, t.new_email());
                if !t.history.is_empty() {
                    let list = k.history(&t.id);
                    exec.lpush(&list, &t.history).ignore();
                    if t.expected.is_some() {
                        exec.ltrim(&list, 0, KEEP - 1).ignore();
                    }
                }
                outcome.push(Swapped::Written);
            }
        }
        if contacts.is_empty() {
            let () = redis::cmd("UNWATCH").query_async(conn).await?;
            return Ok(outcome);
        }
        exec.hset_multiple(k.contacts(), &contacts).ignore();
        phones.write(&mut exec, &k.phones());
        emails.write(&mut exec, &k.emails());
        let done: Option<()> = exec.query_async(conn).await?;
        if done.is_none() {
            // Someone wrote a watched key first: every contact is read again.
            return Ok(tries.iter().map(|_| Swapped::Again(None)).collect());
        }
        Ok(outcome)
    }

    /// Writes `tries` with the compare-and-set script (one call), then the history of those
    /// written.
    async fn swap_scripted(&self, tries: &[Try]) -> Result<Vec<Swapped>, StoreError> {
        let mut swap = SWAP.prepare_invoke();
        swap.key(self.keys.contacts())
            .key(self.keys.phones())
            .key(self.keys.emails())
            .key(self.keys.forgotten());
        for t in tries {
            swap.arg(&t.id)
                .arg(t.expected.as_deref().unwrap_or(""))
                .arg(&t.json)
                .arg(&t.old_phone)
                .arg(t.new_phone())
                .arg(&t.old_email)
                .arg(t.new_email())
                .arg(t.hashes.join(" "));
        }
        let swapped: Vec<i64> = swap.invoke_async(&mut self.conn.clone()).await?;
        let events: Vec<(&str, &String)> = tries
            .iter()
            .zip(&swapped)
            .filter(|(_, ok)| **ok == 1)
            .flat_map(|(t, _)| t.history.iter().map(|e| (t.id.as_str(), e)))
            .collect();
        self.push_history_lines(&events).await?;
        Ok(swapped
            .into_iter()
            .map(|ok| match ok {
                1 => Swapped::Written,
                2 => Swapped::Forgotten,
                _ => Swapped::Again(None),
            })
            .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The final entry of each address after a batch's edits.
    fn after(edits: &IndexEdits<'_>, addresses: &[&str]) -> Vec<Option<String>> {
        addresses.iter().map(|a| edits.owner(a).map(str::to_string)).collect()
    }

    #[test]
    fn an_address_moving_between_contacts_of_one_batch_ends_with_its_new_owner_in_either_order() {
        // e belonged to a; in one batch a moves to f and b takes e, in both orders.
        let owners = [Some("a".to_string())];
        let mut a_first = IndexEdits::read(&["e"], &owners);
        a_first.reindex("a", "e", "f");
        a_first.reindex("b", "", "e");
        let mut b_first = IndexEdits::read(&["e"], &owners);
        b_first.reindex("b", "", "e");
        b_first.reindex("a", "e", "f");
        for edits in [&a_first, &b_first] {
            assert_eq!(after(edits, &["e", "f"]), [Some("b".into()), Some("a".into())]);
        }
    }

    #[test]
    fn an_entry_naming_someone_else_is_left_alone_and_a_dropped_address_goes() {
        let owners = [Some("x".to_string()), Some("a".to_string())];
        let mut edits = IndexEdits::read(&["e", "g"], &owners);
        // a's old address e is x's now: kept; b drops g, which names a: kept too; a drops g: gone.
        edits.reindex("a", "e", "");
        edits.reindex("b", "g", "");
        assert_eq!(after(&edits, &["e", "g"]), [Some("x".into()), Some("a".into())]);
        edits.reindex("a", "g", "");
        assert_eq!(after(&edits, &["g"]), [None]);
        let mut pipe = redis::pipe();
        edits.write(&mut pipe, "k");
        let sent = String::from_utf8_lossy(&pipe.get_packed_pipeline()).into_owned();
        assert!(sent.contains("HDEL") && !sent.contains("HSET") && !sent.contains("HMSET"), "{sent}");
    }
}
