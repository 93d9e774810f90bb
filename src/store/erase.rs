//! Deleting one person's data: contact record, history, email and phone index entries (of
//! every address they had), queued jobs,
//! agenda items (open and done, and the lists of what each viewer was shown), ledger entries,
//! events, deal facts, failure records and kept lead answers that name them, their addresses in
//! the senders' last errors,
//! and their plain suppression entries (replaced by keyed hashes in the `forgotten` set).
//!
//! "Name them" is exact, never a substring: a record is theirs when a decoded JSON string in
//! it *equals* their id or one of their addresses, or is a delivery key
//! (`contact|plan|touch|date`) whose contact part equals their id — so forgetting `ann@` leaves
//! `joann@`, `1` leaves `11`, and `a` leaves `a|b`.

use super::{Store, StoreError};
use redis::AsyncCommands;

/// What was removed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Erased {
    /// Contact records deleted.
    pub contacts: u64,
    /// Queued jobs deleted.
    pub jobs: u64,
    /// Agenda items deleted.
    pub agenda_items: u64,
    /// Ledger entries deleted.
    pub deliveries: u64,
    /// Event and failure records deleted.
    pub records: u64,
}

static DROP_JOB: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r#"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[6], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4] .. ':' .. ARGV[1])
return 1
"#,
    )
});

impl Store {
    /// Deletes everything stored about `contact_id` whose text mentions any of `needles`
    /// (the id, email and phone). `queue_keys` = [scheduled, active, data, meta prefix, done,
    /// dead, idempotency prefix].
    pub async fn erase(&self, contact_id: &str, needles: &[String], queue_keys: [String; 7]) -> Result<Erased, StoreError> {
        let mut conn = self.conn.clone();
        let mut out = Erased {
            contacts: conn.hdel(self.keys.contacts(), contact_id).await?,
            records: conn.del(self.keys.history(contact_id)).await?,
            ..Default::default()
        };
        // Index entries that point at them, under any address they ever had (an address that
        // now belongs to someone else points at that other contact and stays).
        for index in [self.keys.phones(), self.keys.emails()] {
            let (mut cursor, mut theirs) = (0u64, Vec::new());
            loop {
                let (next, flat) = self.hscan_page(&index, cursor).await?;
                theirs.extend(flat.chunks(2).filter(|kv| kv[1] == contact_id).map(|kv| kv[0].clone()));
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            if !theirs.is_empty() {
                let _: u64 = conn.hdel(&index, theirs).await?;
            }
        }
        let theirs = |raw: &str| serde_json::from_str::<serde_json::Value>(raw).is_ok_and(|v| names(&v, contact_id, needles));
        // Queued jobs (payloads name the contact).
        let [scheduled, active, data, meta, done, dead, idempotency] = queue_keys;
        let mut cursor = 0u64;
        loop {
            let (next, flat) = self.hscan_page(&data, cursor).await?;
            for pair in flat.chunks(2) {
                if let [id, payload] = pair
                    && theirs(payload)
                {
                    let _: i64 = DROP_JOB
                        .key(&scheduled)
                        .key(&active)
                        .key(&data)
                        .key(&meta)
                        .key(&done)
                        .key(&dead)
                        .arg(id)
                        .invoke_async(&mut conn)
                        .await?;
                    out.jobs += 1;
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // Agenda items and ledger entries are keyed by `contact|plan|touch|date`.
        let prefix = format!("{contact_id}|");
        let is_theirs_key = |key: &str| key_contact(key) == Some(contact_id);
        for key in [self.keys.agenda_open(), self.keys.agenda_done()] {
            let fields: Vec<String> = conn.hkeys(&key).await?;
            let mine: Vec<&String> = fields.iter().filter(|f| is_theirs_key(f)).collect();
            if !mine.is_empty() {
                out.agenda_items += conn.hdel::<_, _, u64>(&key, mine).await?;
            }
        }
        let ledger_prefix = self.keys.delivery("");
        let ledger: Vec<String> = self
            .scan_keys(&format!("{ledger_prefix}{}*", redis_glob_escape(&prefix)))
            .await?
            .into_iter()
            .filter(|k| k.strip_prefix(&ledger_prefix).is_some_and(is_theirs_key))
            .collect();
        for chunk in ledger.chunks(500) {
            out.deliveries += conn.del::<_, u64>(chunk).await?;
        }
        let idem_prefix = format!("{idempotency}:");
        let idem: Vec<String> = self
            .scan_keys(&format!("{idem_prefix}{}*", redis_glob_escape(&prefix)))
            .await?
            .into_iter()
            .filter(|k| {
                k.strip_prefix(&idem_prefix)
                    .is_some_and(|rest| is_theirs_key(rest.split('#').next().unwrap_or(rest)))
            })
            .collect();
        for chunk in idem.chunks(500) {
            let _: u64 = conn.del(chunk).await?;
        }
        for list in [self.keys.events(), self.keys.failures(), self.keys.deals()] {
            let items: Vec<String> = conn.lrange(&list, 0, -1).await?;
            for item in items.iter().filter(|i| theirs(i)) {
                out.records += conn.lrem::<_, _, u64>(&list, 0, item).await?;
            }
        }
        // Answers kept for a retried lead post, which name the contact.
        for key in self
            .scan_keys(&format!("{}*", redis_glob_escape(&self.keys.lead_answers())))
            .await?
        {
            let answer: Option<String> = conn.get(&key).await?;
            if answer.as_deref().is_some_and(theirs) {
                out.records += conn.del::<_, u64>(&key).await?;
            }
        }
        // The agenda items each viewer was last shown (their codes).
        for key in self
            .scan_keys(&format!("{}*", redis_glob_escape(&self.keys.agenda_shown(""))))
            .await?
        {
            let shown: Vec<String> = conn.smembers(&key).await?;
            let mine: Vec<&String> = shown.iter().filter(|i| is_theirs_key(i)).collect();
            if !mine.is_empty() {
                out.records += conn.srem::<_, _, u64>(&key, mine).await?;
            }
        }
        // A sender's last error can quote an address ("450 <ann@…> greylisted"), and so can the
        // run summaries that repeat it.
        for key in [self.keys.health(), self.keys.runs()] {
            out.records += self.scrub_quotes(&key, needles).await?;
        }
        Ok(out)
    }

    /// Replaces `needles` quoted in the values of hash `key` by `(forgotten)`; returns how many
    /// values changed.
    async fn scrub_quotes(&self, key: &str, needles: &[String]) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = conn.hgetall(key).await?;
        let mut changed = 0;
        for (field, value) in all {
            let cleaned = needles
                .iter()
                .filter(|n| n.len() > 3)
                .fold(value.clone(), |v, n| v.replace(n.as_str(), "(forgotten)"));
            if cleaned != value {
                let _: () = conn.hset(key, field, cleaned).await?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// One HSCAN step of `key`: the next cursor and a page of field, value, field, value...
    async fn hscan_page(&self, key: &str, cursor: u64) -> Result<(u64, Vec<String>), StoreError> {
        Ok(redis::cmd("HSCAN")
            .arg(key)
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut self.conn.clone())
            .await?)
    }

    async fn scan_keys(&self, pattern: &str) -> Result<Vec<String>, StoreError> {
        let (mut out, mut cursor) = (Vec::new(), 0u64);
        loop {
            let (next, keys) = self.scan_page(pattern, cursor).await?;
            out.extend(keys);
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }

    /// Adds keyed hashes of a forgotten person's addresses.
    pub async fn remember_forgotten(&self, hashes: &[String]) -> Result<(), StoreError> {
        if !hashes.is_empty() {
            let _: () = self.conn.clone().sadd(self.keys.forgotten(), hashes).await?;
        }
        Ok(())
    }

    /// Which of `hashes` belong to forgotten people.
    pub async fn forgotten_among(&self, hashes: &[String]) -> Result<Vec<bool>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        Ok(redis::cmd("SMISMEMBER")
            .arg(self.keys.forgotten())
            .arg(hashes)
            .query_async(&mut self.conn.clone())
            .await?)
    }

    /// Finds the contact that has or had this email or phone (a scan: for `forget` only).
    pub async fn find_contact(&self, needle: &str) -> Result<Option<crate::contacts::Contact>, StoreError> {
        let mut pages = std::pin::pin!(self.contact_pages(5000));
        while let Some(page) = futures::TryStreamExt::try_next(&mut pages).await? {
            if let Some(c) = page.into_iter().find(|c| c.all_addresses().any(|a| a == needle)) {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// The contact part of a delivery or agenda key `contact|plan|touch|date` (a contact id may
/// itself hold `|`: plan, touch and date never do, so the key is split from the right).
fn key_contact(key: &str) -> Option<&str> {
    let mut parts = key.rsplitn(4, '|');
    let (_date, _touch, _plan) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()
}

/// True if a decoded record names the person: a string equal to their id or an address, or
/// a delivery key of theirs, anywhere in it.
fn names(v: &serde_json::Value, contact_id: &str, addresses: &[String]) -> bool {
    match v {
        serde_json::Value::String(s) => s == contact_id || addresses.iter().any(|a| a == s) || key_contact(s) == Some(contact_id),
        serde_json::Value::Array(items) => items.iter().any(|i| names(i, contact_id, addresses)),
        serde_json::Value::Object(map) => map.values().any(|i| names(i, contact_id, addresses)),
        _ => false,
    }
}

fn redis_glob_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_theirs_only_by_exact_id_address_or_key() {
        let ann = |v: serde_json::Value| names(&v, "ann@example.com", &["ann@example.com".into(), "+12175550100".into()]);
        assert!(ann(serde_json::json!({"contact_id": "ann@example.com"})));
        assert!(ann(serde_json::json!({"key": "ann@example.com|8x8|w1|2026-11-20"})));
        assert!(ann(serde_json::json!({"form": {"From": "+12175550100"}})));
        assert!(!ann(
            serde_json::json!({"contact_id": "joann@example.com", "key": "joann@example.com|8x8|w1|2026-11-20"})
        ));
        assert!(!ann(serde_json::json!({"phone": "+121755501001"})));
        let one = |v: serde_json::Value| names(&v, "1", &[]);
        assert!(
            !one(serde_json::json!({"v": 1, "contact_id": "11", "attempt": 1})),
            "numbers are not ids"
        );
        assert!(one(serde_json::json!({"contact_id": "1"})));
        assert_eq!(key_contact("a|b|8x8|w1|2026-11-20"), Some("a|b"));
        assert_eq!(key_contact("a|8x8|w1|2026-11-20"), Some("a"));
        assert_eq!(key_contact("8x8|w1|2026-11-20"), None);
    }
}
