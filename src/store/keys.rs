//! Every Redis key nurture writes, spelled from the configured prefix. Nothing else builds keys.

/// Key builder for one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix:`.
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_string(),
        }
    }
    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// HASH contact id → contact JSON.
    pub fn contacts(&self) -> String {
        format!("{}:contacts", self.prefix)
    }
    /// HASH normalized address → suppression entry JSON; `channel` is `email` or `sms`.
    pub fn suppression(&self, channel: &str) -> String {
        format!("{}:suppression:{channel}", self.prefix)
    }
    /// STRING delivery state for one (contact, plan, touch, occurrence).
    pub fn delivery(&self, delivery_key: &str) -> String {
        format!("{}:delivery:{delivery_key}", self.prefix)
    }
    /// HASH counters for one run date (sent, failed, dead, suppressed, ...).
    pub fn stats(&self, date: &str) -> String {
        format!("{}:stats:{date}", self.prefix)
    }
    /// LIST of the most recent permanent failures (JSON), newest first.
    pub fn failures(&self) -> String {
        format!("{}:failures", self.prefix)
    }
    /// HASH run date → run summary JSON.
    pub fn runs(&self) -> String {
        format!("{}:runs", self.prefix)
    }
    /// STRING the date of the last run that finished.
    pub fn last_run(&self) -> String {
        format!("{}:last_run", self.prefix)
    }
    /// HASH agenda item id → item JSON: the open items (any due date; undone items roll over).
    pub fn agenda_open(&self) -> String {
        format!("{}:agenda:open", self.prefix)
    }
    /// HASH agenda item id → item JSON with `done_at`: the items marked done.
    pub fn agenda_done(&self) -> String {
        format!("{}:agenda:done", self.prefix)
    }
    /// SET of the agenda item ids last shown to `viewer` (an agent, `*`, or `(all)`), for
    /// `agenda done --all-shown`.
    pub fn agenda_shown(&self, viewer: &str) -> String {
        format!("{}:agenda:shown:{viewer}", self.prefix)
    }
    /// STRING set once the agenda of `date` was emailed to `agent`.
    pub fn agenda_mail(&self, date: &str, agent: &str) -> String {
        format!("{}:agenda:mail:{date}:{agent}", self.prefix)
    }
    /// STRING set once the agenda link whose token hashes to `token_hash` acted (kept until the
    /// link expires): each link acts once.
    pub fn agenda_link_used(&self, token_hash: &str) -> String {
        format!("{}:agenda:link:{token_hash}", self.prefix)
    }
    /// LIST of the pending event ids of one contact for the webhook `name`, oldest first: only
    /// the first goes, so events arrive in order.
    pub fn webhook_order(&self, name: &str, contact_id: &str) -> String {
        format!("{}:webhook:{name}:{contact_id}", self.prefix)
    }
    /// LIST of one contact's history events (JSON), newest first.
    pub fn history(&self, contact_id: &str) -> String {
        format!("{}:history:{contact_id}", self.prefix)
    }
    /// HASH E.164 phone → contact id (inbound SMS find their sender).
    pub fn phones(&self) -> String {
        format!("{}:phones", self.prefix)
    }
    /// STRING set once the phone index has been built from the contacts (an empty index of a
    /// database without phones is then not rebuilt on every lookup).
    pub fn phones_built(&self) -> String {
        format!("{}:phones:built", self.prefix)
    }
    /// HASH normalized email → contact id (one person, one contact: imports find the contact
    /// an address already belongs to).
    pub fn emails(&self) -> String {
        format!("{}:emails", self.prefix)
    }
    /// STRING set once the email index has been built from the contacts.
    pub fn emails_built(&self) -> String {
        format!("{}:emails:built", self.prefix)
    }
    /// HASH day (`YYYY-MM-DD`) → amount spent on lead source `source` that day.
    pub fn costs(&self, source: &str) -> String {
        format!("{}:costs:{source}", self.prefix)
    }
    /// LIST of every recorded cost (JSON: source, date, amount, note), oldest first.
    pub fn costs_log(&self) -> String {
        format!("{}:costs:log", self.prefix)
    }
    /// LIST of every deal (JSON: contact_id, date, value), oldest first: the facts of
    /// `report customers`.
    pub fn deals(&self) -> String {
        format!("{}:facts:deals", self.prefix)
    }
    /// LIST of the facts of one day (`report` reads them; see [`crate::facts`]), oldest first.
    pub fn facts(&self, day: &str) -> String {
        format!("{}:facts:{day}", self.prefix)
    }
    /// HASH contact pseudonym → day of its first deal (which deal is a contact's first).
    pub fn first_deals(&self) -> String {
        format!("{}:facts:first_deals", self.prefix)
    }
    /// STRING the last turn taken in the rotation of `[assign]` rule `rule`.
    pub fn assign_turn(&self, rule: &str) -> String {
        format!("{}:assign:{rule}", self.prefix)
    }
    /// STRING the stored answer to a lead post with `Idempotency-Key` `key` (24 h).
    pub fn lead_answer(&self, source: &str, key: &str) -> String {
        format!("{}:leads:idem:{source}:{key}", self.prefix)
    }
    /// The common start of every [`Keys::lead_answer`] key.
    pub fn lead_answers(&self) -> String {
        format!("{}:leads:idem:", self.prefix)
    }
    /// STRING posts of one rate-limit bucket (`who`: a source or a client IP) in one minute.
    pub fn lead_rate(&self, who: &str, minute: i64) -> String {
        format!("{}:leads:rate:{who}:{minute}", self.prefix)
    }
    /// SET of keyed hashes of forgotten addresses.
    pub fn forgotten(&self) -> String {
        format!("{}:forgotten", self.prefix)
    }
    /// LIST of opt-out / opt-in events (JSON), newest first.
    pub fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }
    /// STRING lock taken by the scheduled run of one date (so many `serve`s run it once).
    pub fn run_lock(&self, date: &str) -> String {
        format!("{}:lock:run:{date}", self.prefix)
    }
    /// STRING set once the inbound SMS `sid` (the provider's MessageSid) was handled.
    pub fn sms_seen(&self, sid: &str) -> String {
        format!("{}:sms:seen:{sid}", self.prefix)
    }
    /// STRING set when a number was asked to confirm its SMS consent (`hash`: its peppered
    /// address hash), so a form cannot make us text one number more than once a month.
    pub fn consent_asked(&self, hash: &str) -> String {
        format!("{}:consent:asked:{hash}", self.prefix)
    }
    /// STRING taken by the run that cleans up for one date (once per date).
    pub fn vacuum_lock(&self, date: &str) -> String {
        format!("{}:lock:vacuum:{date}", self.prefix)
    }
    /// STRING `CURSOR KEYS`: where the next night's clean-up goes on (`0`: from the start) and
    /// the database size when that sweep began.
    pub fn vacuum_cursor(&self) -> String {
        format!("{}:vacuum:cursor", self.prefix)
    }
    /// Every key of this installation (a SCAN pattern).
    pub fn all(&self) -> String {
        format!("{}:*", self.prefix)
    }
    /// HASH channel (`email`, `sms`) → JSON of the sender's last health (ok / down / refused).
    pub fn health(&self) -> String {
        format!("{}:health", self.prefix)
    }
    /// STRING the state of one returning message (`working` while it is handled, then
    /// `done:KIND`), by a hash of its `Message-ID` or provider event id: each is handled once.
    pub fn inbound_seen(&self, id_hash: &str) -> String {
        format!("{}:inbound:seen:{id_hash}", self.prefix)
    }
    /// STRING set by `nurture inbound resume`: the complaint and bounce guard only warns while
    /// it lives (the 7 days of its window).
    pub fn inbound_resumed(&self) -> String {
        format!("{}:inbound:resumed", self.prefix)
    }
    /// STRING `delivery key NUL address` that the VERP tag `tag` of an envelope sender names
    /// (`[inbound] return_path`), kept 30 days after the send.
    pub fn verp(&self, tag: &str) -> String {
        format!("{}:verp:{tag}", self.prefix)
    }
    /// The apalis queue name (apalis adds its own suffixes: `:active`, `:scheduled`, ...).
    pub fn queue(&self) -> String {
        format!("{}:jobs", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_starts_with_the_prefix() {
        let k = Keys::new("p1");
        for key in [
            k.contacts(),
            k.suppression("email"),
            k.delivery("a|b|c|d"),
            k.stats("d"),
            k.failures(),
            k.runs(),
            k.last_run(),
            k.agenda_open(),
            k.agenda_done(),
            k.agenda_mail("d", "a"),
            k.agenda_shown("sara"),
            k.history("c"),
            k.phones(),
            k.emails(),
            k.emails_built(),
            k.costs("zillow"),
            k.costs_log(),
            k.deals(),
            k.facts("2026-12-01"),
            k.first_deals(),
            k.assign_turn("default"),
            k.lead_answer("zillow", "k"),
            k.lead_rate("zillow", 1),
            k.queue(),
            k.events(),
            k.forgotten(),
            k.run_lock("d"),
            k.health(),
            k.vacuum_lock("d"),
            k.inbound_seen("h"),
            k.inbound_resumed(),
            k.verp("t"),
        ] {
            assert!(key.starts_with("p1:"), "{key}");
        }
    }
}
