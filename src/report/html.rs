//! `report --html`: the practice's numbers as one self-contained page — totals, the per-group
//! table, the funnel, revenue and ROI per source, the response rate day by day and the ABC
//! Pareto curve, drawn as inline SVG. No script, no font, no image from elsewhere: it opens
//! offline and mails as one file. Right to left, with Arabic labels, when `[report] locale`
//! is `ar`.

use super::customers::Customer;
use super::format;
use super::practice::{Practice, Row};
use crate::render::escape_html;

/// The page's words in one language.
struct Words {
    title: &'static str,
    period: &'static str,
    funnel: &'static str,
    revenue: &'static str,
    roi: &'static str,
    over_time: &'static str,
    pareto: &'static str,
    no_data: &'static str,
    labels: [&'static str; 4],
    /// The table columns, in the order of [`super::practice::COLUMNS`] (the first one, the
    /// group, is named by `--by`).
    columns: [&'static str; 18],
    /// The two tables: reach and response, then money.
    tables: [&'static str; 2],
    groups: [(&'static str, &'static str); 4],
    /// The owner's sections: agents, weeks, months, pipeline, non-responders.
    sections: [&'static str; 5],
    /// Pipeline columns: stage, contacts at the end, moves in the period; lost: reason.
    pipeline: [&'static str; 4],
    /// Non-responder columns: plan, contacts, moved to, stayed; and the sentence before.
    quiet: [&'static str; 5],
    /// "Week", "Month", and the legend of the trend tables.
    span: [&'static str; 3],
}

const EN: Words = Words {
    title: "The practice's numbers",
    period: "Period",
    funnel: "Funnel",
    revenue: "Revenue per source",
    roi: "ROI per source (%)",
    over_time: "Response rate of the contacts reached, week by week (%)",
    pareto: "ABC: share of customer value (Pareto)",
    no_data: "nothing recorded",
    labels: ["Leads", "Reached", "Responded", "Customers"],
    columns: [
        "",
        "Leads",
        "Reached",
        "Sent",
        "Failed",
        "Suppressed",
        "Unsubscribed",
        "Responded",
        "Response rate",
        "Customers",
        "Conversion rate",
        "Deals",
        "Revenue",
        "Cost",
        "Cost per lead",
        "Cost per customer",
        "ROI",
        "Customer lifetime value",
    ],
    tables: ["Reach and response", "Money"],
    groups: [("source", "Source"), ("plan", "Plan"), ("touch", "Touch"), ("agent", "Agent")],
    sections: [
        "Agents side by side",
        "Week by week",
        "Month by month",
        "Pipeline",
        "Non-responders",
    ],
    pipeline: ["Stage", "Contacts at the end", "Moves in the period", "Why lost"],
    quiet: [
        "Plan",
        "Contacts",
        "Moved to",
        "Stayed",
        "Sent at least {n} touches and never answered by the period's end — analyse them, don't delete them.",
    ],
    span: [
        "Week",
        "Month",
        "In brackets: the same span before (the week before; the same days of the month before); ▲ ▼ the change.",
    ],
};

const AR: Words = Words {
    title: "أرقام النشاط",
    period: "الفترة",
    funnel: "قمع العملاء",
    revenue: "الإيرادات حسب المصدر",
    roi: "العائد على الاستثمار حسب المصدر (%)",
    over_time: "معدل استجابة من تم الوصول إليهم، أسبوعاً بأسبوع (%)",
    pareto: "تحليل ABC: حصة قيمة العملاء (باريتو)",
    no_data: "لا توجد بيانات",
    labels: ["العملاء المحتملون", "تم الوصول", "استجابوا", "العملاء"],
    columns: [
        "",
        "العملاء المحتملون",
        "تم الوصول",
        "أُرسل",
        "فشل",
        "محظور",
        "ألغوا الاشتراك",
        "استجابوا",
        "معدل الاستجابة",
        "العملاء",
        "معدل التحويل",
        "الصفقات",
        "الإيرادات",
        "التكلفة",
        "تكلفة العميل المحتمل",
        "تكلفة اكتساب العميل",
        "العائد على الاستثمار",
        "القيمة الدائمة للعميل",
    ],
    tables: ["الوصول والاستجابة", "المال"],
    groups: [("source", "المصدر"), ("plan", "الخطة"), ("touch", "اللمسة"), ("agent", "الوكيل")],
    sections: [
        "الوكلاء جنباً إلى جنب",
        "أسبوعاً بأسبوع",
        "شهراً بشهر",
        "مراحل العملاء",
        "من لم يستجيبوا",
    ],
    pipeline: ["المرحلة", "العدد في نهاية الفترة", "الانتقالات خلال الفترة", "أسباب الخسارة"],
    quiet: [
        "الخطة",
        "العدد",
        "نُقلوا إلى",
        "بقوا",
        "تلقّوا {n} لمسات على الأقل ولم يستجيبوا حتى نهاية الفترة — حلّلهم ولا تحذفهم.",
    ],
    span: [
        "الأسبوع",
        "الشهر",
        "بين القوسين: المدة نفسها قبلها (الأسبوع السابق؛ الأيام نفسها من الشهر السابق)؛ ▲ ▼ التغيّر.",
    ],
};

impl Words {
    /// The label of the grouping `by` (`Source`, `المصدر`).
    fn group(&self, by: super::practice::By) -> &'static str {
        self.groups.iter().find(|(k, _)| *k == by.name()).map_or(by.name(), |(_, v)| v)
    }
}

/// The column labels of the practice table in the report's language (Arabic, else English),
/// the first one being the name of the grouping `by`: what the text report prints too.
pub fn column_labels(by: super::practice::By, arabic: bool) -> Vec<String> {
    let w = if arabic { &AR } else { &EN };
    let group = w.group(by);
    std::iter::once(group)
        .chain(w.columns[1..].iter().copied())
        .map(String::from)
        .collect()
}

/// Chart size in SVG units.
const W: f64 = 640.0;
const BAR: f64 = 26.0;
const LABEL: f64 = 170.0;

/// The page of `p` (a period's figures as grouped) with `[report]`'s language and currency:
/// reads what else the page shows (the figures by source, the customers). `report --html` and
/// `serve`'s `/report` make it this way.
pub async fn for_period(
    store: &crate::store::Store,
    config: &crate::config::Config,
    p: &Practice,
) -> Result<String, crate::store::StoreError> {
    let report = &config.report;
    let by_source = match p.by {
        super::practice::By::Source => p.clone(),
        _ => super::read::practice(store, super::practice::By::Source, p.from, p.to, report.relationship_years).await?,
    };
    let customers = super::customers::customers(&store.deals().await?, p.to, report.abc);
    // The names of the customers the Pareto chart labels.
    let labelled: Vec<String> = customers.iter().take(PARETO_NAMES).map(|c| c.contact_id.clone()).collect();
    let names = labelled
        .iter()
        .zip(store.contacts(&labelled).await?)
        .filter_map(|(id, c)| Some((id.clone(), c?.display_name()?)))
        .collect();
    let owner = super::owner::read(store, config, p.from, p.to).await?;
    let arabic = report.is_arabic();
    let parts = Parts {
        by_source: &by_source,
        customers: &customers,
        names: &names,
        owner: &owner,
    };
    Ok(page(p, &parts, arabic, &config.report_currency()))
}

/// How many of the best customers the Pareto chart names.
const PARETO_NAMES: usize = 10;

/// What the page shows besides the period's figures.
pub struct Parts<'a> {
    /// The period by source (the revenue and ROI charts).
    pub by_source: &'a Practice,
    /// Every customer by value (the Pareto chart).
    pub customers: &'a [Customer],
    /// Contact id → name, for the customers the chart labels.
    pub names: &'a std::collections::HashMap<String, String>,
    /// Agents, trends, pipeline, non-responders.
    pub owner: &'a super::owner::Owner,
}

/// The page: `p` as grouped, with the `parts` around it; `arabic` lays it out right to left;
/// money is in `currency` (ISO 4217).
pub fn page(p: &Practice, parts: &Parts<'_>, arabic: bool, currency: &str) -> String {
    let (by_source, customers) = (parts.by_source, parts.customers);
    let w = if arabic { &AR } else { &EN };
    let (lang, dir) = if arabic { ("ar", "rtl") } else { ("en", "ltr") };
    let t = &p.total;
    let mut html = format!(
        "<!doctype html><html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title><style>{STYLE}</style></head><body>\
         <h1>{title}</h1><p>{period}: {from} – {to}</p>",
        title = w.title,
        period = w.period,
        from = p.from,
        to = p.to,
    );
    html.push_str("<section class=\"cards\">");
    let money = |v: f64| format::money(v, currency);
    for (name, column, value) in [
        ("leads", 1, format::count(t.leads)),
        ("reached", 2, format::count(t.reached)),
        ("response_rate", 8, format::percent(t.response_rate)),
        ("customers", 9, format::count(t.customers)),
        ("revenue", 12, money(t.revenue)),
        ("cost", 13, money(t.cost)),
        ("roi", 16, format::percent(t.roi)),
        ("clv", 17, format::money_or_none(t.clv, currency)),
    ] {
        html.push_str(&format!(
            "<div class=\"card\" id=\"total-{name}\"><b>{value}</b><span>{}</span></div>",
            w.columns[column]
        ));
    }
    html.push_str("</section>");
    html.push_str(&tables(p, w, currency));
    let funnel = [t.leads, t.reached, t.responded, t.customers];
    let funnel: Vec<(String, f64, String)> = w
        .labels
        .iter()
        .zip(funnel)
        .map(|(l, v)| (l.to_string(), v as f64, format::count(v)))
        .collect();
    html.push_str(&figure("funnel", w.funnel, &bars(&funnel, arabic), w.no_data));
    let sources: Vec<&Row> = by_source.rows.iter().collect();
    let revenue: Vec<(String, f64, String)> = sources.iter().map(|r| (r.group.clone(), r.revenue, money(r.revenue))).collect();
    html.push_str(&figure("revenue", w.revenue, &bars(&revenue, arabic), w.no_data));
    let roi: Vec<(String, f64, String)> = sources
        .iter()
        .filter_map(|r| r.roi.map(|v| (r.group.clone(), v, format::percent(Some(v)))))
        .collect();
    html.push_str(&figure("roi", w.roi, &bars(&roi, arabic), w.no_data));
    let owner = parts.owner;
    let rates: Vec<(String, f64, String)> = owner
        .trends
        .weeks
        .iter()
        .filter_map(|s| s.now.rate.map(|r| (s.label.clone(), r, format::percent(Some(r)))))
        .collect();
    html.push_str(&figure("over-time", w.over_time, &bars(&rates, arabic), w.no_data));
    html.push_str(&agents(&owner.agents, w, currency));
    html.push_str(&trend_table("weeks", w.sections[1], w.span[0], &owner.trends.weeks, w, currency));
    html.push_str(&trend_table("months", w.sections[2], w.span[1], &owner.trends.months, w, currency));
    html.push_str(&pipeline(&owner.standing, w));
    html.push_str(&non_responders(&owner.standing, w));
    html.push_str(&figure("pareto", w.pareto, &pareto(customers, parts.names, arabic), w.no_data));
    html.push_str("</body></html>\n");
    html
}

/// On screen a 60 rem column; printed, the whole A4 or Letter width (portrait), small type, no
/// chart split across pages.
const STYLE: &str = "body{font-family:system-ui,'Noto Sans Arabic',sans-serif;margin:2rem;color:#222;max-width:60rem}\
h1{margin-bottom:0}h2{font-size:1rem;margin:1.2rem 0 .2rem}.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}\
.card{border:1px solid #ccd;border-radius:6px;padding:.5rem .8rem;min-width:7rem}\
.card b{display:block;font-size:1.3rem}.card span{color:#667;font-size:.8rem}\
table{border-collapse:collapse;font-size:.8rem;margin:.2rem 0 1rem;width:100%;table-layout:auto}\
th{font-weight:600;vertical-align:bottom;color:#445}\
th,td{padding:.25rem .4rem;border-bottom:1px solid #dde;text-align:end}td{white-space:nowrap}\
th:first-child,td:first-child{text-align:start;white-space:normal}tr.total td{font-weight:bold;border-top:2px solid #889}\
figure{margin:1.5rem 0;break-inside:avoid}figcaption{font-weight:bold;margin-bottom:.4rem}svg{max-width:100%;height:auto}\
svg text{font-size:12px;fill:#333}\
@page{size:auto;margin:12mm}\
@media print{body{margin:0;max-width:none;font-size:9pt}table{font-size:7pt}th,td{padding:.15rem .25rem}\
.card{padding:.3rem .5rem;min-width:5rem}.card b{font-size:1rem}h2,figure{break-inside:avoid}}";

/// The per-group figures as two tables that fit the page: reach and response, then money.
fn tables(p: &Practice, w: &Words, currency: &str) -> String {
    let by = w.group(p.by);
    let parts: [(&str, &[usize]); 2] = [
        ("groups", &[1, 2, 3, 4, 5, 6, 7, 8]),
        ("groups-money", &[9, 10, 11, 12, 13, 14, 15, 16, 17]),
    ];
    parts
        .iter()
        .zip(w.tables)
        .map(|((id, columns), caption)| practice_table(p, id, caption, by, columns, w, currency))
        .collect()
}

/// One table of `p`'s rows and total: the group, then `columns` (indices of
/// [`super::practice::COLUMNS`]), under the heading `caption`.
fn practice_table(p: &Practice, id: &str, caption: &str, by: &str, columns: &[usize], w: &Words, currency: &str) -> String {
    let mut out = format!("<h2>{caption}</h2><table id=\"{id}\"><thead><tr><th>{}</th>", escape_html(by));
    for &c in columns {
        out.push_str(&format!("<th>{}</th>", w.columns[c]));
    }
    out.push_str("</tr></thead><tbody>");
    for r in p.rows.iter().chain([&p.total]) {
        let class = if std::ptr::eq(r, &p.total) { " class=\"total\"" } else { "" };
        let cells = human_cells(r, currency);
        out.push_str(&format!("<tr{class}><td>{}</td>", escape_html(&cells[0])));
        for &c in columns {
            out.push_str(&format!("<td>{}</td>", escape_html(&cells[c])));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A row's cells for people (counts with separators, money in `currency`, percentages), in the
/// order of [`super::practice::COLUMNS`]: what the page and the text report show.
pub fn human_cells(r: &Row, currency: &str) -> Vec<String> {
    let money = |v: f64| format::money(v, currency);
    let money_or_none = |v: Option<f64>| format::money_or_none(v, currency);
    vec![
        r.group.clone(),
        format::count(r.leads),
        format::count(r.reached),
        format::count(r.sent),
        format::count(r.failed),
        format::count(r.suppressed),
        format::count(r.unsubscribed),
        format::count(r.responded),
        format::percent(r.response_rate),
        format::count(r.customers),
        format::percent(r.conversion_rate),
        format::count(r.deals),
        money(r.revenue),
        money(r.cost),
        money_or_none(r.cpl),
        money_or_none(r.cac),
        format::percent(r.roi),
        money_or_none(r.clv),
    ]
}

fn figure(id: &str, caption: &str, svg: &Option<String>, none: &str) -> String {
    let body = svg.clone().unwrap_or_else(|| format!("<p class=\"empty\">{none}</p>"));
    format!("<figure id=\"{id}\"><figcaption>{caption}</figcaption>{body}</figure>")
}

/// Horizontal bars, one per item, from a zero line: positive values grow away from the
/// labels, negative ones (a loss-making ROI, in red) the other way, both on one scale. Bars grow
/// from the right in RTL.
fn bars(items: &[(String, f64, String)], rtl: bool) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let most = items.iter().map(|(_, v, _)| *v).fold(0.0, f64::max);
    let least = items.iter().map(|(_, v, _)| *v).fold(0.0, f64::min);
    let span = (most - least).max(f64::MIN_POSITIVE);
    let height = items.len() as f64 * (BAR + 8.0) + 8.0;
    // Room for the value written past the end of a bar, on either side of the zero line.
    let room = W - LABEL - 90.0 - if least < 0.0 { 70.0 } else { 0.0 };
    let neg_room = if least < 0.0 { 70.0 } else { 0.0 };
    // Distance from the label column to the zero line, in the reading direction.
    let zero = neg_room + -least / span * room;
    let at = |d: f64| if rtl { W - LABEL - d } else { LABEL + d };
    let mut svg = format!("<svg viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" role=\"img\" style=\"direction:ltr\">");
    for (i, (label, value, shown)) in items.iter().enumerate() {
        let y = 8.0 + i as f64 * (BAR + 8.0);
        let len = value.abs() / span * room;
        let negative = *value < 0.0;
        let colour = if negative { "#c0392b" } else { "#2e86c1" };
        // The bar runs from the zero line towards the end (positive) or the labels (negative).
        let (from, to) = if negative { (zero - len, zero) } else { (zero, zero + len) };
        let (x0, x1) = (at(from).min(at(to)), at(from).max(at(to)));
        let outward = negative == rtl;
        let (value_x, value_anchor) = if outward { (x1 + 6.0, "start") } else { (x0 - 6.0, "end") };
        let (label_x, anchor) = if rtl { (W - 4.0, "end") } else { (4.0, "start") };
        svg.push_str(&format!(
            "<text x=\"{label_x}\" y=\"{ty}\" text-anchor=\"{anchor}\">{label}</text>\
             <rect x=\"{x0:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR}\" fill=\"{colour}\"><title>{label}: {shown}</title></rect>\
             <text x=\"{value_x:.1}\" y=\"{ty}\" text-anchor=\"{value_anchor}\">{shown}</text>",
            ty = y + BAR * 0.68,
            w = x1 - x0,
            label = escape_html(label),
            shown = escape_html(shown),
        ));
    }
    svg.push_str(&format!(
        "<line class=\"zero\" x1=\"{x:.1}\" y1=\"2\" x2=\"{x:.1}\" y2=\"{y2}\" stroke=\"#445\"/></svg>",
        x = at(zero),
        y2 = height - 2.0
    ));
    Some(svg)
}

/// The agents side by side: reach, response and money per agent.
fn agents(p: &Practice, w: &Words, currency: &str) -> String {
    let columns = [1usize, 2, 7, 8, 9, 11, 12, 13, 16];
    practice_table(
        p,
        "agents",
        w.sections[0],
        w.group(super::practice::By::Agent),
        &columns,
        w,
        currency,
    )
}

/// A figure beside the one before it, with the change: `12 (9 ▲)`.
fn beside(now: String, before: String, up: Option<bool>) -> String {
    let arrow = match up {
        Some(true) => " ▲",
        Some(false) => " ▼",
        None => "",
    };
    format!(
        "{} <small class=\"before\">({}{arrow})</small>",
        escape_html(&now),
        escape_html(&before)
    )
}

fn change<T: PartialOrd>(now: T, before: T) -> Option<bool> {
    if now > before {
        Some(true)
    } else if now < before {
        Some(false)
    } else {
        None
    }
}

/// Weeks or months, each figure beside the span before it.
fn trend_table(id: &str, caption: &str, span: &str, spans: &[super::trends::Span], w: &Words, currency: &str) -> String {
    let mut out = format!(
        "<h2>{caption}</h2><table id=\"{id}\"><thead><tr><th>{span}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        w.columns[1], w.columns[2], w.columns[7], w.columns[8], w.columns[9], w.columns[12]
    );
    for s in spans {
        let (n, b) = (&s.now, &s.before);
        let count = |now: u64, before: u64| beside(format::count(now), format::count(before), change(now, before));
        let rate = beside(
            format::percent(n.rate),
            format::percent(b.rate),
            change(n.rate.unwrap_or(0.0), b.rate.unwrap_or(0.0)),
        );
        let revenue = beside(
            format::money(n.revenue, currency),
            format::money(b.revenue, currency),
            change(n.revenue, b.revenue),
        );
        out.push_str(&format!(
            "<tr><td title=\"{} – {}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{rate}</td><td>{}</td><td>{revenue}</td></tr>",
            s.from,
            s.to,
            escape_html(&s.label),
            count(n.leads, b.leads),
            count(n.reached, b.reached),
            count(n.responded, b.responded),
            count(n.customers, b.customers),
        ));
    }
    out.push_str(&format!("</tbody></table><p class=\"note\">{}</p>", w.span[2]));
    out
}

/// Contacts per stage at the period's end, the moves within it, and why contacts were lost.
fn pipeline(s: &super::standing::Standing, w: &Words) -> String {
    let [stage, at_end, moved, why] = w.pipeline;
    let mut out = format!(
        "<h2>{}</h2><table id=\"pipeline\"><thead><tr><th>{stage}</th><th>{at_end}</th><th>{moved}</th></tr></thead><tbody>",
        w.sections[3]
    );
    for (k, n, moves) in s.rows() {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(k),
            format::count(n),
            format::count(moves)
        ));
    }
    out.push_str("</tbody></table>");
    if !s.lost_reasons.is_empty() {
        out.push_str(&format!(
            "<table id=\"lost-reasons\"><thead><tr><th>{why}</th><th></th></tr></thead><tbody>"
        ));
        for (reason, n) in &s.lost_reasons {
            out.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>", escape_html(reason), format::count(*n)));
        }
        out.push_str("</tbody></table>");
    }
    out
}

/// Per plan: the non-responders, where they were moved, how many stayed.
fn non_responders(s: &super::standing::Standing, w: &Words) -> String {
    let [plan, contacts, moved_to, stayed, sentence] = w.quiet;
    let mut out = format!(
        "<h2>{}</h2><p>{}</p><table id=\"non-responders\"><thead><tr><th>{plan}</th><th>{contacts}</th><th>{moved_to}</th><th>{stayed}</th></tr></thead><tbody>",
        w.sections[4],
        sentence.replace("{n}", &s.touches.to_string())
    );
    for r in &s.non_responders {
        let to = r.moved_to_text();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&r.plan),
            format::count(r.contacts),
            if to.is_empty() { "—".to_string() } else { escape_html(&to) },
            format::count(r.stayed())
        ));
    }
    if s.non_responders.is_empty() {
        out.push_str(&format!("<tr><td colspan=\"4\">{}</td></tr>", w.no_data));
    }
    out.push_str("</tbody></table>");
    out
}

/// The Pareto curve: customers by value, highest first, against the running share of all
/// value, with the A/B boundaries marked.
fn pareto(customers: &[Customer], names: &std::collections::HashMap<String, String>, rtl: bool) -> Option<String> {
    let total: f64 = customers.iter().map(|c| c.monetary).sum();
    if customers.is_empty() || total <= 0.0 {
        return None;
    }
    let n = customers.len() as f64;
    let x = |share: f64| 40.0 + (if rtl { 1.0 - share } else { share }) * (W - 60.0);
    let y = |share: f64| 190.0 - share * 170.0;
    let mut running = 0.0;
    let mut points = vec![format!("{:.1},{:.1}", x(0.0), y(0.0))];
    let mut marks = String::new();
    for (i, c) in customers.iter().enumerate() {
        running += c.monetary;
        let (px, py) = (x((i + 1) as f64 / n), y(running / total));
        points.push(format!("{px:.1},{py:.1}"));
        let colour = match c.abc {
            'A' => "#1e8449",
            'B' => "#d68910",
            _ => "#922b21",
        };
        let name = names.get(&c.contact_id).map_or(c.contact_id.as_str(), String::as_str);
        marks.push_str(&format!(
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{colour}\" class=\"abc-{}\"><title>{}: {}</title></circle>",
            c.abc,
            escape_html(name),
            c.monetary
        ));
        if i < PARETO_NAMES {
            // The best customers by name, written beside their point.
            // Written towards the middle near either edge, so no name runs off the chart.
            let rightward = if rtl { px < 160.0 } else { px < W - 160.0 };
            let (tx, anchor) = if rightward { (px + 6.0, "start") } else { (px - 6.0, "end") };
            marks.push_str(&format!(
                "<text class=\"customer\" x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{} ({})</text>",
                py + 14.0,
                escape_html(name),
                c.abc
            ));
        }
    }
    let count = |class: char| customers.iter().filter(|c| c.abc == class).count();
    Some(format!(
        "<svg viewBox=\"0 0 {W} 220\" width=\"{W}\" height=\"220\" role=\"img\" style=\"direction:ltr\">\
         <line x1=\"40\" y1=\"190\" x2=\"{}\" y2=\"190\" stroke=\"#889\"/>\
         <text x=\"4\" y=\"24\">100%</text><text x=\"4\" y=\"194\">0%</text>\
         <polyline fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" points=\"{}\"/>{marks}\
         <text x=\"{}\" y=\"212\" text-anchor=\"middle\">A {} · B {} · C {}</text></svg>",
        W - 20.0,
        points.join(" "),
        W / 2.0,
        count('A'),
        count('B'),
        count('C'),
    ))
}
