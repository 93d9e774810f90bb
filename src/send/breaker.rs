//! The circuit breaker of the senders: after `[delivery] breaker_after` consecutive refusals
//! by the relay or the SMS provider ([`super::SendError::Refused`]: the sender, the
//! credentials, the content or a policy — never one recipient), sending on that channel stops
//! for `breaker_cooldown_secs`. Messages are not attempted while it is open: they stay queued,
//! unsuppressed and unclosed, for the next run or after the cooldown. A success closes it.

use std::collections::HashMap;
use std::sync::Mutex;

/// Why a channel is stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trip {
    /// `email` or `sms`.
    pub channel: String,
    /// The relay's or provider's own reply that tripped it.
    pub reply: String,
    /// Until when (unix seconds) no message is attempted.
    pub until: i64,
}

#[derive(Debug, Default)]
struct State {
    refusals: u32,
    open_until: i64,
    last: String,
    /// First transient failure since the last success (an outage), unix seconds.
    down_since: Option<i64>,
    /// The latest time this channel's breaker opened, in this process.
    trip: Option<Trip>,
}

/// One breaker per process, shared by all jobs.
#[derive(Debug)]
pub struct Breaker {
    after: u32,
    cooldown: i64,
    channels: Mutex<HashMap<String, State>>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(after: u32, cooldown_secs: u64) -> Breaker {
        Breaker {
            after: after.max(1),
            cooldown: cooldown_secs as i64,
            channels: Mutex::default(),
        }
    }

    /// A closed breaker set by `[delivery] breaker_after` and `breaker_cooldown_secs`.
    pub fn from_config(d: &crate::config::DeliveryConfig) -> Breaker {
        Breaker::new(d.breaker_after, d.breaker_cooldown_secs)
    }

    /// `Some(until)` while `channel` is stopped at `now`.
    pub fn open_until(&self, channel: &str, now: i64) -> Option<i64> {
        let map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        map.get(channel).map(|s| s.open_until).filter(|until| *until > now)
    }

    /// A message went through: the channel is healthy again.
    pub fn success(&self, channel: &str) {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get_mut(channel) {
            s.refusals = 0;
            s.open_until = 0;
            s.down_since = None;
        }
    }

    /// A transient failure (unreachable, timeout, 4xx): the outage clock starts if it is new.
    pub fn unreachable(&self, channel: &str, now: i64) {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(channel.to_string()).or_default().down_since.get_or_insert(now);
    }

    /// The longest outage going on at `now`: (channel, since), if any channel is down.
    pub fn outage(&self, now: i64) -> Option<(String, i64)> {
        let map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter_map(|(c, s)| s.down_since.map(|t| (c.clone(), t)))
            .filter(|(_, t)| *t <= now)
            .min_by_key(|(_, t)| *t)
    }

    /// The relay refused us; returns the trip when this refusal opens the breaker.
    pub fn refused(&self, channel: &str, reply: &str, now: i64) -> Option<Trip> {
        self.count_refusal(channel, reply, now, 1)
    }

    /// The startup check was refused (bad credentials, sender not allowed): there is no point
    /// in trying messages, the breaker opens at once.
    pub fn refused_at_startup(&self, channel: &str, reply: &str, now: i64) -> Option<Trip> {
        self.count_refusal(channel, reply, now, self.after)
    }

    fn count_refusal(&self, channel: &str, reply: &str, now: i64, weight: u32) -> Option<Trip> {
        let mut map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(channel.to_string()).or_default();
        s.refusals += weight;
        s.last = reply.to_string();
        if s.refusals < self.after || s.open_until > now {
            return None;
        }
        s.open_until = now + self.cooldown.max(1);
        let trip = Trip {
            channel: channel.to_string(),
            reply: reply.to_string(),
            until: s.open_until,
        };
        s.trip = Some(trip.clone());
        Some(trip)
    }

    /// The latest trip of each channel that tripped in this process, by channel name.
    pub fn trips(&self) -> Vec<Trip> {
        let map = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let mut trips: Vec<Trip> = map.values().filter_map(|s| s.trip.clone()).collect();
        trips.sort_by(|a, b| a.channel.cmp(&b.channel));
        trips
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_refusals_and_a_success_closes_it() {
        let b = Breaker::new(3, 60);
        assert!(b.refused("email", "550 no", 0).is_none());
        b.success("email");
        assert!(b.refused("email", "550 no", 0).is_none());
        assert!(b.refused("email", "550 no", 0).is_none());
        let trip = b.refused("email", "550 5.7.1 not authorised", 10).unwrap();
        assert_eq!((trip.until, trip.reply.as_str()), (70, "550 5.7.1 not authorised"));
        assert_eq!(b.open_until("email", 20), Some(70));
        assert_eq!(b.open_until("sms", 20), None);
        assert_eq!(b.open_until("email", 70), None, "half open after the cooldown");
        let sms = b.refused_at_startup("sms", "401", 20).unwrap();
        assert_eq!(b.trips(), vec![trip, sms], "each channel's trip, by name");
    }

    #[test]
    fn a_refused_startup_check_opens_at_once() {
        let b = Breaker::new(3, 60);
        let trip = b.refused_at_startup("sms", "401 Authenticate", 0).unwrap();
        assert_eq!(trip.until, 60);
        assert_eq!(b.open_until("sms", 1), Some(60));
    }

    #[test]
    fn an_outage_lasts_from_the_first_failure_to_the_next_success() {
        let b = Breaker::new(3, 60);
        assert_eq!(b.outage(5), None);
        b.unreachable("email", 5);
        b.unreachable("email", 9);
        assert_eq!(b.outage(10), Some(("email".into(), 5)));
        b.success("email");
        assert_eq!(b.outage(10), None);
    }
}
