//! How big Redis grows: its used memory now, and what the ledger and keys of a night's
//! messages settle at over their lifetimes — from the bytes `bench/memory.sh` measured per
//! delivered message (MEMORY USAGE of every key, BENCHMARKS.md, issue 27).

use super::{Store, StoreError};
use serde::Serialize;

/// A delivery's ledger mark (lives `[delivery] retention_days`).
pub const MARK_BYTES: u64 = 136;
/// A queue idempotency key (lives `grace_days + 4` days, at least 7).
pub const IDEMPOTENCY_BYTES: u64 = 152;
/// A report fact (lives `[report] keep_days`).
pub const FACT_BYTES: u64 = 48;

/// Redis's memory, and what a night's volume settles at.
#[derive(Debug, Clone, Serialize)]
pub struct Sizing {
    /// `used_memory` of INFO memory.
    pub used_bytes: u64,
    /// Messages of the last night (sent, suppressed, failed).
    pub messages_a_night: u64,
    /// The bytes those nights' marks, keys and facts hold at steady state.
    pub projected_bytes: u64,
}

/// Bytes `messages` a night hold at steady state: each kind of key times the days it lives.
pub fn projected(messages: u64, retention_days: u64, idempotency_days: u64, fact_days: u64) -> u64 {
    messages * (MARK_BYTES * retention_days + IDEMPOTENCY_BYTES * idempotency_days + FACT_BYTES * fact_days)
}

impl Store {
    /// Redis's `used_memory` in bytes.
    pub async fn used_memory(&self) -> Result<u64, StoreError> {
        let info: String = redis::cmd("INFO").arg("memory").query_async(&mut self.conn.clone()).await?;
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0))
    }
}

/// Bytes as people read them: `312.4 MB`, `4.1 GB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000_000 => format!("{:.0} kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nights_volume_over_the_lifetimes_of_its_keys() {
        // 100,000 messages a night, the defaults: 35 days of marks, 7 of keys, 400 of facts.
        assert_eq!(projected(100_000, 35, 7, 400), 100_000 * (136 * 35 + 152 * 7 + 48 * 400));
        assert_eq!(human(2_450_000_000), "2.5 GB");
        assert_eq!(human(312_400_000), "312.4 MB");
        assert_eq!(human(5_000), "5 kB");
    }
}
