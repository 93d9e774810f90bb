//! `nurture report`: the practice's numbers for a period, per plan, touch, source or agent,
//! with a total row — tallied from the day-by-day facts of [`crate::facts`] and the recorded
//! costs. The formulas (README "Reports") are the functions at the bottom, each unit tested.

use crate::facts::{FactView, Kind};
use crate::store::Cost;
use chrono::NaiveDate;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes pseudonyms by their own value: they are keyed HMAC output, uniform already, so the
/// default SipHash would only cost time (a year of facts is millions of set inserts).
#[derive(Default)]
struct WhoHasher(u64);

impl Hasher for WhoHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A set of contacts (pseudonyms).
type Who = HashSet<u64, BuildHasherDefault<WhoHasher>>;

/// The group label of facts that have no value for the grouping (a lead has no touch; a
/// source's cost with no lead in the period belongs to no plan).
pub const NONE: &str = "—";

/// What the rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// The plan.
    Plan,
    /// The touch (`plan/touch`); responses, opt-outs and deals go to the last touch sent
    /// before them.
    Touch,
    /// The lead source.
    Source,
    /// The agent.
    Agent,
}

impl By {
    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            By::Plan => "plan",
            By::Touch => "touch",
            By::Source => "source",
            By::Agent => "agent",
        }
    }

    fn key<'a>(self, f: &FactView<'a>) -> Cow<'a, str> {
        let key = match self {
            By::Plan => Cow::Borrowed(f.plan),
            By::Touch if f.touch.is_empty() => Cow::Borrowed(""),
            By::Touch => Cow::Owned(format!("{}/{}", f.plan, f.touch)),
            By::Source => Cow::Borrowed(f.source),
            By::Agent => Cow::Borrowed(f.agent),
        };
        if key.is_empty() { Cow::Borrowed(NONE) } else { key }
    }
}

/// The figures of one group (or of the total). A ratio whose denominator is 0 is `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The group (`total` for the total row).
    pub group: String,
    /// New contacts.
    pub leads: u64,
    /// Contacts sent at least one message.
    pub reached: u64,
    /// Messages sent.
    pub sent: u64,
    /// Messages refused for good.
    pub failed: u64,
    /// Messages not sent: suppressed.
    pub suppressed: u64,
    /// Contacts who opted out (any path).
    pub unsubscribed: u64,
    /// Contacts who responded.
    pub responded: u64,
    /// responded / reached × 100.
    pub response_rate: Option<f64>,
    /// Contacts whose first deal fell in the period.
    pub customers: u64,
    /// customers / leads × 100.
    pub conversion_rate: Option<f64>,
    /// Deals in the period.
    pub deals: u64,
    /// Sum of deal values.
    pub revenue: f64,
    /// Recorded cost (`record cost`; shared out by leads outside `--by source`).
    pub cost: f64,
    /// cost / leads.
    pub cpl: Option<f64>,
    /// cost / customers.
    pub cac: Option<f64>,
    /// (revenue − cost) / cost × 100.
    pub roi: Option<f64>,
    /// average deal value × deals per customer per year × relationship years − CAC.
    pub clv: Option<f64>,
    /// Of `responded`, those also reached in the period (a rate of them never passes 100 %).
    #[serde(skip)]
    pub responded_reached: u64,
}

/// One day of the period, for the chart of the response rate over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// The day.
    pub date: NaiveDate,
    /// Contacts sent a message that day.
    pub reached: u64,
    /// Contacts who responded that day.
    pub responded: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Practice {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// The grouping.
    pub by: By,
    /// One row per group, by name.
    pub rows: Vec<Row>,
    /// All groups together.
    pub total: Row,
    /// Day by day (all groups).
    pub days: Vec<Day>,
}

#[derive(Debug, Default)]
struct Acc {
    leads: u64,
    leads_by_source: HashMap<String, u64>,
    reached: Who,
    sent: u64,
    failed: u64,
    suppressed: u64,
    unsubscribed: Who,
    responded: Who,
    customers: u64,
    deals: u64,
    paying: Who,
    revenue: f64,
    cost: f64,
}

impl Acc {
    fn add(&mut self, f: &FactView) {
        match f.kind {
            Kind::Lead => {
                self.leads += 1;
                match self.leads_by_source.get_mut(f.source) {
                    Some(n) => *n += 1,
                    None => {
                        self.leads_by_source.insert(f.source.to_string(), 1);
                    }
                }
            }
            Kind::Sent => {
                self.sent += 1;
                self.reached.insert(f.who);
            }
            Kind::Failed => self.failed += 1,
            Kind::Suppressed => self.suppressed += 1,
            Kind::Unsubscribed => {
                self.unsubscribed.insert(f.who);
            }
            Kind::Response => {
                self.responded.insert(f.who);
            }
            Kind::Deal => {
                self.deals += 1;
                self.revenue += f.value;
                self.paying.insert(f.who);
                if f.is_first_deal() {
                    self.customers += 1;
                }
            }
            Kind::Stage => {}
        }
    }

    /// Adds `other`'s facts (its sets as a union: a contact in both counts once).
    fn merge(&mut self, other: &Acc) {
        self.leads += other.leads;
        for (source, n) in &other.leads_by_source {
            *self.leads_by_source.entry(source.clone()).or_default() += n;
        }
        self.reached.extend(&other.reached);
        self.sent += other.sent;
        self.failed += other.failed;
        self.suppressed += other.suppressed;
        self.unsubscribed.extend(&other.unsubscribed);
        self.responded.extend(&other.responded);
        self.customers += other.customers;
        self.deals += other.deals;
        self.paying.extend(&other.paying);
        self.revenue += other.revenue;
    }

    fn row(&self, group: String, period_days: i64, years: f64) -> Row {
        let reached = self.reached.len() as u64;
        let responded = self.responded.len() as u64;
        let cac = ratio(self.cost, self.customers as f64);
        let responded_reached = self.responded.iter().filter(|w| self.reached.contains(*w)).count() as u64;
        Row {
            responded_reached,
            group,
            leads: self.leads,
            reached,
            sent: self.sent,
            failed: self.failed,
            suppressed: self.suppressed,
            unsubscribed: self.unsubscribed.len() as u64,
            responded,
            response_rate: percent(responded as f64, reached as f64),
            customers: self.customers,
            conversion_rate: percent(self.customers as f64, self.leads as f64),
            deals: self.deals,
            revenue: self.revenue,
            cost: self.cost,
            cpl: ratio(self.cost, self.leads as f64),
            cac,
            roi: roi(self.revenue, self.cost),
            clv: clv(
                ClvInputs {
                    revenue: self.revenue,
                    deals: self.deals,
                    paying: self.paying.len() as u64,
                    period_days,
                    years,
                },
                cac.or((self.cost == 0.0).then_some(0.0)),
            ),
        }
    }
}

/// The tally in progress: feed it the facts day by day, then the costs.
#[derive(Debug)]
pub struct Tally {
    by: By,
    groups: BTreeMap<String, Acc>,
    total: Acc,
    days: Vec<Day>,
    today: Option<(NaiveDate, Who, Who)>,
}

impl Tally {
    /// An empty tally grouped `by`.
    pub fn new(by: By) -> Tally {
        Tally {
            by,
            groups: BTreeMap::new(),
            total: Acc::default(),
            days: Vec::new(),
            today: None,
        }
    }

    /// Starts the facts of `day` (days come in order).
    pub fn day(&mut self, day: NaiveDate) {
        self.close_day();
        self.today = Some((day, Who::default(), Who::default()));
    }

    fn close_day(&mut self) {
        if let Some((date, reached, responded)) = self.today.take() {
            self.days.push(Day {
                date,
                reached: reached.len() as u64,
                responded: responded.len() as u64,
            });
        }
    }

    /// Adds one fact of the current day.
    pub fn add(&mut self, f: &FactView) {
        let key = self.by.key(f);
        match self.groups.get_mut(key.as_ref()) {
            Some(acc) => acc.add(f),
            None => self.groups.entry(key.into_owned()).or_default().add(f),
        }
        if let Some((_, reached, responded)) = &mut self.today {
            match f.kind {
                Kind::Sent => {
                    reached.insert(f.who);
                }
                Kind::Response => {
                    responded.insert(f.who);
                }
                _ => {}
            }
        }
    }

    /// This tally and `other` (of other days) as one.
    pub fn merge(mut self, mut other: Tally) -> Tally {
        self.close_day();
        other.close_day();
        for (group, acc) in other.groups {
            match self.groups.get_mut(&group) {
                Some(mine) => mine.merge(&acc),
                None => {
                    self.groups.insert(group, acc);
                }
            }
        }
        self.days.extend(other.days);
        self.days.sort_by_key(|d| d.date);
        self
    }

    /// Adds the costs of the period and computes every figure. Outside `--by source`, a
    /// source's cost is shared among the groups in proportion to the leads each got from that
    /// source in the period (no lead from it: the `—` group).
    pub fn finish(mut self, from: NaiveDate, to: NaiveDate, costs: &[Cost], years: f64) -> Practice {
        self.close_day();
        // The total is the groups merged once at the end, not a second set insert per fact.
        for acc in self.groups.values() {
            self.total.merge(acc);
        }
        let mut by_source: BTreeMap<&str, f64> = BTreeMap::new();
        for c in costs.iter().filter(|c| c.date >= from && c.date <= to) {
            *by_source.entry(c.source.as_str()).or_default() += c.amount;
        }
        for (source, amount) in by_source {
            self.total.cost += amount;
            if self.by == By::Source {
                self.groups.entry(source.to_string()).or_default().cost += amount;
                continue;
            }
            let leads = self.total.leads_by_source.get(source).copied().unwrap_or(0);
            if leads == 0 {
                self.groups.entry(NONE.to_string()).or_default().cost += amount;
                continue;
            }
            for acc in self.groups.values_mut() {
                let share = acc.leads_by_source.get(source).copied().unwrap_or(0);
                acc.cost += amount * share as f64 / leads as f64;
            }
        }
        let period_days = (to - from).num_days() + 1;
        Practice {
            from,
            to,
            by: self.by,
            rows: self.groups.iter().map(|(g, a)| a.row(g.clone(), period_days, years)).collect(),
            total: self.total.row("total".into(), period_days, years),
            days: self.days,
        }
    }
}

/// The column names of a practice row, in order.
pub const COLUMNS: [&str; 18] = [
    "group",
    "leads",
    "reached",
    "sent",
    "failed",
    "suppressed",
    "unsubscribed",
    "responded",
    "response_rate",
    "customers",
    "conversion_rate",
    "deals",
    "revenue",
    "cost",
    "cpl",
    "cac",
    "roi",
    "clv",
];

/// A row's cells: counts whole, money and rates with two decimals, a ratio without a
/// denominator as `none`.
pub fn cells(r: &Row, none: &str) -> Vec<String> {
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| none.to_string());
    vec![
        r.group.clone(),
        r.leads.to_string(),
        r.reached.to_string(),
        r.sent.to_string(),
        r.failed.to_string(),
        r.suppressed.to_string(),
        r.unsubscribed.to_string(),
        r.responded.to_string(),
        opt(r.response_rate),
        r.customers.to_string(),
        opt(r.conversion_rate),
        r.deals.to_string(),
        format!("{:.2}", r.revenue),
        format!("{:.2}", r.cost),
        opt(r.cpl),
        opt(r.cac),
        opt(r.roi),
        opt(r.clv),
    ]
}

/// `n / d × 100`; `None` when `d` is 0.
pub fn percent(n: f64, d: f64) -> Option<f64> {
    ratio(n, d).map(|r| r * 100.0)
}

/// `n / d`; `None` when `d` is 0.
pub fn ratio(n: f64, d: f64) -> Option<f64> {
    (d != 0.0).then(|| n / d)
}

/// ROI = (revenue − cost) / cost × 100; `None` without cost.
pub fn roi(revenue: f64, cost: f64) -> Option<f64> {
    percent(revenue - cost, cost)
}

/// What CLV is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ClvInputs {
    /// Sum of deal values in the period.
    pub revenue: f64,
    /// Deals in the period.
    pub deals: u64,
    /// Contacts with at least one deal in the period.
    pub paying: u64,
    /// Days in the period.
    pub period_days: i64,
    /// `[report] relationship_years`.
    pub years: f64,
}

/// CLV = average deal value × deals per customer per year × relationship years − CAC, where
/// average deal value = revenue / deals and deals per customer per year = deals / paying
/// customers / the period in years — a period shorter than a year counts as one (one sale in
/// a month is not twelve a year). `None` without deals or without a CAC.
pub fn clv(i: ClvInputs, cac: Option<f64>) -> Option<f64> {
    let average = ratio(i.revenue, i.deals as f64)?;
    let per_customer = ratio(i.deals as f64, i.paying as f64)?;
    let per_year = per_customer * 365.0 / i.period_days.max(365) as f64;
    Some(average * per_year * i.years - cac?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Attribution, Fact};

    /// Adds `f` as `report` reads it: its stored line.
    fn add(t: &mut Tally, f: &Fact) {
        let line = f.encode();
        t.add(&FactView::parse(&line).unwrap());
    }

    fn fact(kind: Kind, who: u64, source: &str, touch: &str) -> Fact {
        Fact::new(
            kind,
            who,
            Attribution {
                plan: "8x8".into(),
                touch: touch.into(),
                source: source.into(),
                agent: "sara".into(),
            },
        )
    }

    #[test]
    fn tallies_of_different_days_merge_into_the_tally_of_all() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let facts = [
            (1, fact(Kind::Sent, 1, "zillow", "d1")),
            (1, fact(Kind::Sent, 2, "web", "d1")),
            (1, fact(Kind::Response, 2, "web", "d1")),
            (2, fact(Kind::Sent, 1, "zillow", "d2")),
            (2, fact(Kind::Sent, 3, "zillow", "d2")),
            (2, fact(Kind::Response, 1, "zillow", "d2")),
        ];
        let mut all = Tally::new(By::Source);
        let (mut odd, mut even) = (Tally::new(By::Source), Tally::new(By::Source));
        for d in [1, 2] {
            all.day(day(d));
            let part = if d % 2 == 1 { &mut odd } else { &mut even };
            part.day(day(d));
            for (_, f) in facts.iter().filter(|(fd, _)| *fd == d) {
                add(&mut all, f);
                add(part, f);
            }
        }
        let (a, b) = (day(1), day(2));
        let one = all.finish(a, b, &[], 5.0);
        let merged = Tally::new(By::Source).merge(even).merge(odd).finish(a, b, &[], 5.0);
        assert_eq!(merged.rows, one.rows);
        assert_eq!(merged.total, one.total);
        assert_eq!(merged.days, one.days);
        assert_eq!(
            (one.total.reached, one.total.sent, one.total.responded),
            (3, 4, 2),
            "contact 1 once"
        );
    }

    #[test]
    fn response_rate_is_responded_over_reached() {
        assert_eq!(percent(3.0, 12.0), Some(25.0));
        assert_eq!(percent(3.0, 0.0), None);
    }

    #[test]
    fn conversion_cpl_and_cac() {
        assert_eq!(percent(2.0, 8.0), Some(25.0), "conversion = customers / leads × 100");
        assert_eq!(ratio(400.0, 8.0), Some(50.0), "CPL = cost / leads");
        assert_eq!(ratio(400.0, 2.0), Some(200.0), "CAC = cost / customers");
        assert_eq!(ratio(400.0, 0.0), None);
    }

    #[test]
    fn roi_is_net_over_cost() {
        assert_eq!(roi(1_500.0, 500.0), Some(200.0));
        assert_eq!(roi(250.0, 500.0), Some(-50.0));
        assert_eq!(roi(250.0, 0.0), None);
    }

    #[test]
    fn clv_follows_the_seed_formula() {
        // 4 deals worth 10,000 in all by 2 customers over 365 days: average 2,500, 2 deals a
        // customer a year, 5 years, CAC 1,000 → 2,500 × 2 × 5 − 1,000 = 24,000.
        let i = ClvInputs {
            revenue: 10_000.0,
            deals: 4,
            paying: 2,
            period_days: 365,
            years: 5.0,
        };
        assert_eq!(clv(i, Some(1_000.0)), Some(24_000.0));
        // Over two years the frequency is halved; a short period is never scaled up to a year.
        assert_eq!(clv(ClvInputs { period_days: 730, ..i }, Some(0.0)), Some(2_500.0 * 1.0 * 5.0));
        assert_eq!(clv(ClvInputs { period_days: 30, ..i }, Some(0.0)), Some(2_500.0 * 2.0 * 5.0));
        assert_eq!(clv(ClvInputs { deals: 0, ..i }, Some(0.0)), None);
        assert_eq!(clv(i, None), None);
    }

    #[test]
    fn a_tally_groups_and_shares_costs_by_leads() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let mut t = Tally::new(By::Touch);
        t.day(day(1));
        add(&mut t, &fact(Kind::Lead, 1, "zillow", ""));
        add(&mut t, &fact(Kind::Lead, 2, "zillow", ""));
        add(&mut t, &fact(Kind::Sent, 1, "zillow", "d1"));
        add(&mut t, &fact(Kind::Sent, 2, "zillow", "d1"));
        t.day(day(2));
        add(&mut t, &fact(Kind::Sent, 1, "zillow", "d2"));
        add(&mut t, &fact(Kind::Response, 1, "zillow", "d2"));
        add(&mut t, &fact(Kind::Response, 1, "zillow", "d2"));
        let mut deal = fact(Kind::Deal, 1, "zillow", "d2");
        deal.value = 1_000.0;
        deal.detail = crate::facts::FIRST.into();
        add(&mut t, &deal);
        let costs = vec![
            Cost {
                source: "zillow".into(),
                date: day(1),
                amount: 300.0,
                note: String::new(),
            },
            Cost {
                source: "radio".into(),
                date: day(2),
                amount: 100.0,
                note: String::new(),
            },
            Cost {
                source: "zillow".into(),
                date: day(3),
                amount: 999.0,
                note: "after the period".into(),
            },
        ];
        let p = t.finish(day(1), day(2), &costs, 5.0);
        let groups: Vec<&str> = p.rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(groups, ["8x8/d1", "8x8/d2", NONE]);
        assert_eq!(p.total.leads, 2);
        assert_eq!(p.total.reached, 2);
        assert_eq!(p.total.sent, 3);
        assert_eq!(p.total.responded, 1, "a contact responding twice counts once");
        assert_eq!(p.total.response_rate, Some(50.0));
        assert_eq!(p.total.customers, 1);
        assert_eq!(p.total.conversion_rate, Some(50.0));
        assert_eq!(p.total.cost, 400.0);
        assert_eq!(p.total.cac, Some(400.0));
        assert_eq!(p.total.roi, Some(150.0));
        // Leads carry no touch: they and the cost shared by leads are in the `—` row, with
        // the radio cost that brought no lead.
        let none = &p.rows[2];
        assert_eq!((none.leads, none.cost), (2, 400.0));
        assert_eq!(p.rows[1].revenue, 1_000.0);
        assert_eq!(p.rows[1].response_rate, Some(100.0));
        assert_eq!(p.days.len(), 2);
        assert_eq!((p.days[1].reached, p.days[1].responded), (1, 1));
    }

    #[test]
    fn by_source_costs_go_to_their_source() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let mut t = Tally::new(By::Source);
        t.day(day);
        add(&mut t, &fact(Kind::Lead, 1, "zillow", ""));
        let cost = Cost {
            source: "radio".into(),
            date: day,
            amount: 100.0,
            note: String::new(),
        };
        let p = t.finish(day, day, &[cost], 5.0);
        let radio = p.rows.iter().find(|r| r.group == "radio").unwrap();
        assert_eq!((radio.leads, radio.cost, radio.cpl), (0, 100.0, None));
        let zillow = p.rows.iter().find(|r| r.group == "zillow").unwrap();
        assert_eq!((zillow.cost, zillow.roi), (0.0, None));
    }
}
