//! Plans keep what their names promise: `[promise] touches = 33, per = "year"` is counted for
//! each language the plan speaks (holidays differ), `within = "8w"` over the first weeks; and a
//! `[demote]` that can never be reached is pointed out.

use super::Workspace;
use crate::diagnostic::Diagnostic;
use crate::plans::{Channel, Plan, When, schedule};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Touches one contact of `lang` gets in a year of `plan` (cron rules counted over 2027), or
/// in its first `within` days; by channel.
pub fn touches_by_channel(plan: &Plan, lang: &str, within: Option<i64>) -> BTreeMap<Channel, u32> {
    let (from, to) = (NaiveDate::from_ymd_opt(2027, 1, 1), NaiveDate::from_ymd_opt(2027, 12, 31));
    let year_days = plan.length.unwrap_or(365).min(365);
    let mut out = BTreeMap::new();
    for t in plan.touches.iter().filter(|t| t.is_for(lang)) {
        let n = match (&t.when, within) {
            (When::After(d), Some(w)) => u32::from(*d < w),
            (When::After(d), None) => u32::from(*d < year_days),
            (_, Some(_)) => 0,
            (When::On(_), None) => 1,
            (When::Cron(c), None) => match (from, to) {
                (Some(from), Some(to)) => schedule::cron_days(c, from, to).len() as u32,
                _ => 0,
            },
        };
        *out.entry(t.channel).or_insert(0) += n;
    }
    out
}

impl Workspace {
    /// Checks every `[promise]` and `[demote]`.
    pub(super) fn check_promises(&mut self) {
        let mut found = Vec::new();
        for plan in self.plans.values() {
            let mut langs: Vec<String> = plan.touches.iter().filter_map(|t| t.locale.clone()).collect();
            langs.push("en".into());
            langs.sort();
            langs.dedup();
            if let Some(p) = &plan.promise {
                for lang in &langs {
                    let by_channel = touches_by_channel(plan, lang, p.within_days);
                    let total: u32 = by_channel.values().sum();
                    let kept = if p.at_least { total >= p.touches } else { total == p.touches };
                    if !kept {
                        let span = p.within_days.map_or("a year".to_string(), |d| format!("in the first {d} days"));
                        let breakdown: Vec<String> = by_channel
                            .iter()
                            .filter(|(_, n)| **n > 0)
                            .map(|(c, n)| format!("{n} {}", c.as_str()))
                            .collect();
                        found.push(Diagnostic::error(
                            &plan.file,
                            p.line,
                            1,
                            format!(
                                "promise: {}{} touches {span}, but a contact with locale \"{lang}\" gets {total} ({})",
                                if p.at_least { "at least " } else { "" },
                                p.touches,
                                breakdown.join(", ")
                            ),
                        ));
                    }
                }
            }
            if let Some(d) = &plan.demote {
                let most = langs
                    .iter()
                    .map(|l| touches_by_channel(plan, l, None).values().sum::<u32>())
                    .max()
                    .unwrap_or(0);
                let has_end = plan.last_day(NaiveDate::MIN).is_some();
                if has_end && d.after > most {
                    found.push(Diagnostic::warning(
                        &plan.file,
                        1,
                        1,
                        format!(
                            "demote: after {} touches, but one pass through the plan has at most {most}: nobody is ever demoted",
                            d.after
                        ),
                    ));
                }
            }
        }
        self.diagnostics.extend(found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::parse_plan;

    #[test]
    fn counts_a_year_per_language() {
        let text = "length = \"1y\"\n[[touch]]\nid = \"news\"\ncron = \"0 0 9 15 * *\"\nchannel = \"email\"\ntemplate = \"n\"\n\
[[touch]]\nid = \"bday\"\non = \"birthday\"\nchannel = \"card\"\n\
[[touch]]\nid = \"eid\"\non = \"hijri 10-01\"\nlocale = \"ar\"\nchannel = \"sms\"\ntemplate = \"s\"\n\
[[touch]]\nid = \"call\"\nafter = \"60d\"\nchannel = \"call\"\n\
[[touch]]\nid = \"late\"\nafter = \"400d\"\nchannel = \"call\"\n";
        let mut d = Vec::new();
        let plan = parse_plan("p", "p.toml", text, &mut d).unwrap();
        let en = touches_by_channel(&plan, "en", None);
        assert_eq!(en.values().sum::<u32>(), 12 + 1 + 1, "{en:?}");
        assert_eq!(touches_by_channel(&plan, "ar", None).values().sum::<u32>(), 15);
        assert_eq!(touches_by_channel(&plan, "en", Some(61)).values().sum::<u32>(), 1);
    }
}
