//! Assignment of new leads: the `[assign]` rule of the lead's source, else the default rule,
//! picks the plan; the rule's agents take turns (round robin). The turn counter of each rule
//! lives in Redis, so several servers and imports share one rotation.

use crate::config::{AssignConfig, AssignRule};
use crate::store::{Store, StoreError};

/// What a rule decided for one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The agent (a key of `[agents]`).
    pub agent: String,
    /// The plan (empty: the rule names none).
    pub plan: String,
    /// The rule that decided: `default` or `sources.NAME`.
    pub rule: String,
    /// Which turn of the rule's rotation this was (1, 2, ...).
    pub turn: u64,
}

impl Assignment {
    /// The history line: `agent sara, plan 8x8 (rule sources.zillow, turn 3)`.
    pub fn describe(&self) -> String {
        let plan = if self.plan.is_empty() {
            String::new()
        } else {
            format!(", plan {}", self.plan)
        };
        format!("agent {}{plan} (rule {}, turn {})", self.agent, self.rule, self.turn)
    }
}

/// The rule of `source`: its own, else the default (none: leads stay unassigned).
pub fn rule_for<'a>(cfg: &'a AssignConfig, source: &str) -> Option<(String, &'a AssignRule)> {
    match cfg.sources.get(source) {
        Some(rule) => Some((format!("sources.{source}"), rule)),
        None => cfg.default.as_ref().map(|r| ("default".to_string(), r)),
    }
}

/// The agent whose turn `turn` (1-based) is.
pub fn agent_of_turn(rule: &AssignRule, turn: u64) -> &str {
    let n = rule.agents.len().max(1) as u64;
    rule.agents
        .get(((turn.max(1) - 1) % n) as usize)
        .map(String::as_str)
        .unwrap_or_default()
}

/// Assigns one lead per entry of `sources` (in order), taking each rule's next turns in one
/// round trip per rule; `None` where no rule applies.
pub async fn assign(store: &Store, cfg: &AssignConfig, sources: &[&str]) -> Result<Vec<Option<Assignment>>, StoreError> {
    let rules: Vec<Option<(String, &AssignRule)>> = sources.iter().map(|s| rule_for(cfg, s)).collect();
    let mut wanted: std::collections::BTreeMap<&str, u64> = Default::default();
    for (name, _) in rules.iter().flatten() {
        *wanted.entry(name.as_str()).or_default() += 1;
    }
    let mut next: std::collections::HashMap<String, u64> = Default::default();
    for (name, count) in wanted {
        let last = store.take_turns(name, count).await?;
        next.insert(name.to_string(), last - count + 1);
    }
    Ok(rules
        .into_iter()
        .map(|r| {
            let (name, rule) = r?;
            let turn = next.get_mut(&name)?;
            let a = Assignment {
                agent: agent_of_turn(rule, *turn).to_string(),
                plan: rule.plan.clone(),
                rule: name,
                turn: *turn,
            };
            *turn += 1;
            Some(a)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_rule_wins_and_agents_take_turns() {
        let rule = |agents: &[&str], plan: &str| AssignRule {
            agents: agents.iter().map(|a| a.to_string()).collect(),
            plan: plan.into(),
        };
        let cfg = AssignConfig {
            default: Some(rule(&["sara", "omar"], "8x8")),
            sources: [("zillow".to_string(), rule(&["lina"], "12-direct"))].into(),
        };
        assert_eq!(rule_for(&cfg, "zillow").unwrap().0, "sources.zillow");
        assert_eq!(rule_for(&cfg, "web").unwrap().0, "default");
        assert!(rule_for(&AssignConfig::default(), "web").is_none());
        let d = cfg.default.as_ref().unwrap();
        let turns: Vec<&str> = (1..=5).map(|t| agent_of_turn(d, t)).collect();
        assert_eq!(turns, ["sara", "omar", "sara", "omar", "sara"]);
    }
}
