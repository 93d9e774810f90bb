//! `report --html`: the practice's numbers as one self-contained page — totals, the per-group
//! table, the funnel, revenue and ROI per source, the response rate day by day and the ABC
//! Pareto curve, drawn as inline SVG. No script, no font, no image from elsewhere: it opens
//! offline and mails as one file. Right to left, with Arabic labels, when `[report] locale`
//! is `ar`.

use super::customers::Customer;
use super::format;
use super::practice::{Day, Practice, Row};
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
}

const EN: Words = Words {
    title: "The practice's numbers",
    period: "Period",
    funnel: "Funnel",
    revenue: "Revenue per source",
    roi: "ROI per source (%)",
    over_time: "Response rate day by day (%)",
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
};

const AR: Words = Words {
    title: "أرقام النشاط",
    period: "الفترة",
    funnel: "قمع العملاء",
    revenue: "الإيرادات حسب المصدر",
    roi: "العائد على الاستثمار حسب المصدر (%)",
    over_time: "معدل الاستجابة يوماً بيوم (%)",
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
};

/// Chart size in SVG units.
const W: f64 = 640.0;
const BAR: f64 = 26.0;
const LABEL: f64 = 170.0;

/// The page of `p` (a period's figures as grouped) with `[report]`'s language and currency:
/// reads what else the page shows (the figures by source, the customers). `report --html` and
/// `serve`'s `/report` make it this way.
pub async fn for_period(
    store: &crate::store::Store,
    config: &crate::config::ReportConfig,
    p: &Practice,
) -> Result<String, crate::store::StoreError> {
    let by_source = match p.by {
        super::practice::By::Source => p.clone(),
        _ => super::read::practice(store, super::practice::By::Source, p.from, p.to, config.relationship_years).await?,
    };
    let customers = super::customers::customers(&store.deals().await?, p.to, config.abc);
    let arabic = config.locale.to_ascii_lowercase().starts_with("ar");
    Ok(page(p, &by_source, &customers, arabic, &config.currency))
}

/// The page: `p` as grouped, `by_source` for the revenue and ROI charts, `customers` for the
/// Pareto curve; `arabic` lays it out right to left; money is in `currency` (ISO 4217).
pub fn page(p: &Practice, by_source: &Practice, customers: &[Customer], arabic: bool, currency: &str) -> String {
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
    html.push_str(&figure("over-time", w.over_time, &over_time(&p.days, arabic), w.no_data));
    html.push_str(&figure("pareto", w.pareto, &pareto(customers, arabic), w.no_data));
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
    let by = w.groups.iter().find(|(k, _)| *k == p.by.name()).map_or(p.by.name(), |(_, v)| v);
    let parts: [(&str, &[usize]); 2] = [
        ("groups", &[1, 2, 3, 4, 5, 6, 7, 8]),
        ("groups-money", &[9, 10, 11, 12, 13, 14, 15, 16, 17]),
    ];
    let mut out = String::new();
    for ((id, columns), caption) in parts.iter().zip(w.tables) {
        out.push_str(&format!(
            "<h2>{caption}</h2><table id=\"{id}\"><thead><tr><th>{}</th>",
            escape_html(by)
        ));
        for &c in *columns {
            out.push_str(&format!("<th>{}</th>", w.columns[c]));
        }
        out.push_str("</tr></thead><tbody>");
        for r in p.rows.iter().chain([&p.total]) {
            let class = if std::ptr::eq(r, &p.total) { " class=\"total\"" } else { "" };
            let cells = cells(r, currency);
            out.push_str(&format!("<tr{class}><td>{}</td>", escape_html(&cells[0])));
            for &c in *columns {
                out.push_str(&format!("<td>{}</td>", escape_html(&cells[c])));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    out
}

/// A row's cells for people, in the order of [`super::practice::COLUMNS`].
fn cells(r: &Row, currency: &str) -> Vec<String> {
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

/// A line of the response rate per day (days without anyone reached are gaps).
fn over_time(days: &[Day], rtl: bool) -> Option<String> {
    let points: Vec<(usize, f64)> = days
        .iter()
        .enumerate()
        .filter(|(_, d)| d.reached > 0)
        .map(|(i, d)| (i, d.responded as f64 / d.reached as f64 * 100.0))
        .collect();
    if points.is_empty() {
        return None;
    }
    let max = points.iter().map(|p| p.1).fold(1.0, f64::max);
    let span = days.len().max(2) - 1;
    let x = |i: usize| {
        let t = i as f64 / span as f64;
        40.0 + (if rtl { 1.0 - t } else { t }) * (W - 60.0)
    };
    let y = |v: f64| 180.0 - v / max * 160.0;
    let path: Vec<String> = points.iter().map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v))).collect();
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} 210\" width=\"{W}\" height=\"210\" role=\"img\" style=\"direction:ltr\">\
         <line x1=\"40\" y1=\"180\" x2=\"{}\" y2=\"180\" stroke=\"#889\"/>\
         <text x=\"4\" y=\"24\">{max:.0}%</text><text x=\"4\" y=\"184\">0%</text>\
         <polyline fill=\"none\" stroke=\"#2e86c1\" stroke-width=\"2\" points=\"{}\"/>",
        W - 20.0,
        path.join(" ")
    );
    for (i, v) in &points {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#2e86c1\"><title>{}: {v:.1}%</title></circle>",
            x(*i),
            y(*v),
            days[*i].date
        ));
    }
    let (first, last) = (days[0].date, days[days.len() - 1].date);
    let (left, right) = if rtl { (last, first) } else { (first, last) };
    svg.push_str(&format!(
        "<text x=\"40\" y=\"200\">{left}</text><text x=\"{}\" y=\"200\" text-anchor=\"end\">{right}</text></svg>",
        W - 20.0
    ));
    Some(svg)
}

/// The Pareto curve: customers by value, highest first, against the running share of all
/// value, with the A/B boundaries marked.
fn pareto(customers: &[Customer], rtl: bool) -> Option<String> {
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
        marks.push_str(&format!(
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{colour}\" class=\"abc-{}\"/>",
            c.abc
        ));
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
