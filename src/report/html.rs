//! `report --html`: the practice's numbers as one self-contained page — totals, the per-group
//! table, the funnel, revenue and ROI per source, the response rate day by day and the ABC
//! Pareto curve, drawn as inline SVG. No script, no font, no image from elsewhere: it opens
//! offline and mails as one file. Right to left, with Arabic labels, when `[report] locale`
//! is `ar`.

use super::customers::Customer;
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
    labels: ["leads", "reached", "responded", "customers"],
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
};

/// Chart size in SVG units.
const W: f64 = 640.0;
const BAR: f64 = 26.0;
const LABEL: f64 = 170.0;

/// The page: `p` as grouped, `by_source` for the revenue and ROI charts, `customers` for the
/// Pareto curve; `arabic` lays it out right to left.
pub fn page(p: &Practice, by_source: &Practice, customers: &[Customer], arabic: bool) -> String {
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
    for (name, value) in [
        ("leads", t.leads.to_string()),
        ("reached", t.reached.to_string()),
        ("response_rate", pct(t.response_rate)),
        ("customers", t.customers.to_string()),
        ("revenue", money(t.revenue)),
        ("cost", money(t.cost)),
        ("roi", pct(t.roi)),
        ("clv", t.clv.map(money).unwrap_or_else(|| "—".into())),
    ] {
        html.push_str(&format!(
            "<div class=\"card\" id=\"total-{name}\"><b>{value}</b><span>{name}</span></div>"
        ));
    }
    html.push_str("</section>");
    html.push_str(&table(p));
    let funnel = [t.leads, t.reached, t.responded, t.customers];
    let funnel: Vec<(String, f64, String)> = w
        .labels
        .iter()
        .zip(funnel)
        .map(|(l, v)| (l.to_string(), v as f64, v.to_string()))
        .collect();
    html.push_str(&figure("funnel", w.funnel, &bars(&funnel, arabic), w.no_data));
    let sources: Vec<&Row> = by_source.rows.iter().collect();
    let revenue: Vec<(String, f64, String)> = sources.iter().map(|r| (r.group.clone(), r.revenue, money(r.revenue))).collect();
    html.push_str(&figure("revenue", w.revenue, &bars(&revenue, arabic), w.no_data));
    let roi: Vec<(String, f64, String)> = sources
        .iter()
        .filter_map(|r| r.roi.map(|v| (r.group.clone(), v, format!("{v:.0}%"))))
        .collect();
    html.push_str(&figure("roi", w.roi, &bars(&roi, arabic), w.no_data));
    html.push_str(&figure("over-time", w.over_time, &over_time(&p.days, arabic), w.no_data));
    html.push_str(&figure("pareto", w.pareto, &pareto(customers, arabic), w.no_data));
    html.push_str("</body></html>\n");
    html
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans Arabic',sans-serif;margin:2rem;color:#222;max-width:60rem}\
h1{margin-bottom:0}.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}\
.card{border:1px solid #ccd;border-radius:6px;padding:.5rem .8rem;min-width:7rem}\
.card b{display:block;font-size:1.3rem}.card span{color:#667;font-size:.8rem}\
table{border-collapse:collapse;font-size:.8rem;margin:1rem 0;display:block;overflow-x:auto}\
th,td{padding:.25rem .45rem;border-bottom:1px solid #dde;text-align:end;white-space:nowrap}\
th:first-child,td:first-child{text-align:start}tr.total td{font-weight:bold;border-top:2px solid #889}\
figure{margin:1.5rem 0}figcaption{font-weight:bold;margin-bottom:.4rem}svg text{font-size:12px;fill:#333}";

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "—".into())
}

fn money(v: f64) -> String {
    format!("{v:.2}")
}

fn table(p: &Practice) -> String {
    let mut out = String::from("<table id=\"groups\"><thead><tr>");
    for (i, c) in super::practice::COLUMNS.iter().enumerate() {
        let name = if i == 0 { p.by.name() } else { c };
        out.push_str(&format!("<th>{name}</th>"));
    }
    out.push_str("</tr></thead><tbody>");
    for r in p.rows.iter().chain([&p.total]) {
        let class = if std::ptr::eq(r, &p.total) { " class=\"total\"" } else { "" };
        out.push_str(&format!("<tr{class}>"));
        for cell in super::practice::cells(r, "—") {
            out.push_str(&format!("<td>{}</td>", escape_html(&cell)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn figure(id: &str, caption: &str, svg: &Option<String>, none: &str) -> String {
    let body = svg.clone().unwrap_or_else(|| format!("<p class=\"empty\">{none}</p>"));
    format!("<figure id=\"{id}\"><figcaption>{caption}</figcaption>{body}</figure>")
}

/// Horizontal bars, one per item, scaled to the largest absolute value (negative values,
/// a loss-making ROI, are drawn from the same origin in red). Bars grow from the right in RTL.
fn bars(items: &[(String, f64, String)], rtl: bool) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let max = items.iter().map(|(_, v, _)| v.abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let height = items.len() as f64 * (BAR + 8.0) + 8.0;
    let room = W - LABEL - 90.0;
    let mut svg = format!("<svg viewBox=\"0 0 {W} {height}\" width=\"{W}\" height=\"{height}\" role=\"img\" style=\"direction:ltr\">");
    for (i, (label, value, shown)) in items.iter().enumerate() {
        let y = 8.0 + i as f64 * (BAR + 8.0);
        let len = value.abs() / max * room;
        let colour = if *value < 0.0 { "#c0392b" } else { "#2e86c1" };
        let (label_x, anchor, bar_x, value_x, value_anchor) = if rtl {
            (W - 4.0, "end", W - LABEL - len, W - LABEL - len - 6.0, "end")
        } else {
            (4.0, "start", LABEL, LABEL + len + 6.0, "start")
        };
        svg.push_str(&format!(
            "<text x=\"{label_x}\" y=\"{ty}\" text-anchor=\"{anchor}\">{label}</text>\
             <rect x=\"{bar_x:.1}\" y=\"{y}\" width=\"{len:.1}\" height=\"{BAR}\" fill=\"{colour}\"><title>{label}: {shown}</title></rect>\
             <text x=\"{value_x:.1}\" y=\"{ty}\" text-anchor=\"{value_anchor}\">{shown}</text>",
            ty = y + BAR * 0.68,
            label = escape_html(label),
        ));
    }
    svg.push_str("</svg>");
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
