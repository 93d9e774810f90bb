//! The retry policy of transient failures: when the next attempt is, and when a message
//! becomes a dead letter. Outages are waited out: the backoff doubles from
//! `retry_base_secs` up to `retry_max_secs`, and a message is given up only once its failures
//! have gone on for `retry_window_hours` (default 72 h, the grace window) — or after
//! `max_attempts` attempts when that is set (> 0).

use super::DeliveryJob;
use crate::config::DeliveryConfig;

/// What to do after a transient failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this unix time.
    At(i64),
    /// Out of retries: a dead letter with this reason.
    Dead(String),
}

/// The retry policy from `[delivery]`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    base_secs: u64,
    max_secs: u64,
    window_secs: i64,
    max_attempts: u32,
}

impl RetryPolicy {
    /// The policy of `[delivery]`.
    pub fn from_config(c: &DeliveryConfig) -> RetryPolicy {
        RetryPolicy {
            base_secs: c.retry_base_secs,
            max_secs: c.retry_max_secs,
            window_secs: (c.retry_window_hours * 3600) as i64,
            max_attempts: c.max_attempts,
        }
    }

    /// Decides about `job` after its attempt number `job.attempt + 1` failed at `now`; the
    /// returned job (attempt counted, first failure remembered) is what to queue.
    pub fn after_failure(&self, job: &DeliveryJob, now: i64, error: &str) -> (DeliveryJob, Retry) {
        let mut next = job.clone();
        next.attempt = job.attempt + 1;
        let first = *next.first_failed_at.get_or_insert(now);
        let failing_for = now - first;
        if self.max_attempts > 0 && next.attempt >= self.max_attempts {
            let reason = format!("after {} attempts: {error}", next.attempt);
            return (next, Retry::Dead(reason));
        }
        if failing_for >= self.window_secs {
            let reason = format!("still failing after {} h ({} attempts): {error}", failing_for / 3600, next.attempt);
            return (next, Retry::Dead(reason));
        }
        let delay = backoff(self.base_secs, self.max_secs, next.attempt, &job.key) as i64;
        // The last retry falls at the end of the window, not beyond it.
        let at = (now + delay).min(first + self.window_secs).max(now + 1);
        (next, Retry::At(at))
    }
}

/// Seconds before retry `attempt` (1-based): base × 2^(attempt-1), ±20 % jitter, capped.
pub fn backoff(base: u64, max: u64, attempt: u32, key: &str) -> u64 {
    let raw = base.max(1).saturating_mul(1u64 << (attempt.saturating_sub(1)).min(30));
    let h = key
        .bytes()
        .fold(u64::from(attempt), |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let jitter = (raw / 5) as i64;
    let offset = if jitter > 0 {
        (h % (2 * jitter as u64 + 1)) as i64 - jitter
    } else {
        0
    };
    ((raw as i64 + offset).max(1) as u64).min(max.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> DeliveryJob {
        serde_json::from_str(
            r#"{"key":"c|p|t|2026-01-01","contact_id":"c","plan":"p","touch":"t","channel":"email",
                "template":"x","due":"2026-01-01","run_date":"2026-01-01"}"#,
        )
        .unwrap()
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_cap() {
        for attempt in 1..6 {
            let d = backoff(2, 3600, attempt, "k");
            let raw = 2u64 << (attempt - 1);
            assert!(d >= raw - raw / 5 && d <= raw + raw / 5, "attempt {attempt}: {d}");
        }
        assert_eq!(backoff(2, 10, 20, "k"), 10);
    }

    #[test]
    fn the_defaults_wait_out_an_outage_of_hours_and_die_at_the_end_of_the_window() {
        let policy = RetryPolicy::from_config(&DeliveryConfig::default());
        let (mut j, mut now, mut attempts) = (job(), 1_000_000i64, 0);
        loop {
            match policy.after_failure(&j, now, "refused") {
                (next, Retry::At(at)) => {
                    assert!(at > now);
                    now = at;
                    j = next;
                    attempts += 1;
                }
                (next, Retry::Dead(reason)) => {
                    assert_eq!(next.first_failed_at, Some(1_000_000));
                    assert!(reason.contains("72 h"), "{reason}");
                    break;
                }
            }
        }
        assert_eq!(now - 1_000_000, 72 * 3600, "the last try is at the end of the window");
        assert!(attempts > 5 && attempts < 200, "{attempts}");
    }

    #[test]
    fn max_attempts_caps_when_set() {
        let policy = RetryPolicy::from_config(&DeliveryConfig {
            max_attempts: 2,
            ..Default::default()
        });
        let (j, r) = policy.after_failure(&job(), 10, "x");
        assert!(matches!(r, Retry::At(_)));
        assert!(matches!(policy.after_failure(&j, 20, "x").1, Retry::Dead(_)));
    }
}
