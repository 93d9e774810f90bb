//! Template helpers marketers can use besides handlebars' built-ins (`if`, `each`, `with`,
//! `eq`, ...): `default`, `upper`, `lower`, `capitalize`, `title`, `date` (English or Arabic,
//! Gregorian or Hijri) and `plain` (HTML → plain text). README "For marketers" shows each.
//!
//! Strictness is kept: a helper given a variable without a value fails with the same
//! "missing variable" error as `{{contact.x}}` would — except `default`, whose whole point
//! is to supply one.

use crate::calendar::{self, Lang};
use chrono::{Datelike, NaiveDate};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, PathAndJson, RenderContext, RenderError, RenderErrorReason, Renderable, ScopedJson,
};
use serde_json::Value;

/// Registers every helper on `registry`.
pub fn register(registry: &mut Handlebars<'static>) {
    registry.register_helper("default", Box::new(ValueHelper(default_value)));
    for (name, case) in [
        ("upper", Case::Upper),
        ("lower", Case::Lower),
        ("capitalize", Case::Capitalize),
        ("title", Case::Title),
    ] {
        registry.register_helper(name, Box::new(ValueHelper(move |h: &Helper<'_>, _: &Value| change_case(h, case))));
    }
    registry.register_helper("date", Box::new(ValueHelper(date)));
    registry.register_helper("plain", Box::new(PlainHelper));
}

/// A helper that computes a value from its parameters and the root data (escaped like any
/// `{{value}}` in HTML).
struct ValueHelper<F>(F);

impl<F> HelperDef for ValueHelper<F>
where
    F: Fn(&Helper<'_>, &Value) -> Result<Value, RenderError> + Send + Sync,
{
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        (self.0)(h, ctx.data()).map(ScopedJson::Derived)
    }
}

/// True when a value counts as "no value": missing, null or an empty string.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The text of parameter `idx`, or the strict-mode error naming its variable.
fn text_param(h: &Helper<'_>, idx: usize) -> Result<String, RenderError> {
    let Some(p) = h.param(idx) else {
        return Err(RenderErrorReason::ParamNotFoundForIndex(helper_name(h), idx).into());
    };
    if p.is_value_missing() || is_blank(p.value()) {
        return Err(missing(p));
    }
    Ok(match p.value() {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn missing(p: &PathAndJson<'_>) -> RenderError {
    RenderErrorReason::MissingVariable(p.relative_path().cloned()).into()
}

/// Helper names must be `'static` in handlebars' errors.
fn helper_name(h: &Helper<'_>) -> &'static str {
    match h.name() {
        "default" => "default",
        "upper" => "upper",
        "lower" => "lower",
        "capitalize" => "capitalize",
        "title" => "title",
        "date" => "date",
        _ => "plain",
    }
}

/// `{{default contact.first_name "friend"}}`: the value, or the fallback when it is empty.
fn default_value(h: &Helper<'_>, _: &Value) -> Result<Value, RenderError> {
    let value = h.param(0).map(|p| p.value().clone()).unwrap_or(Value::Null);
    if !is_blank(&value) {
        return Ok(value);
    }
    let fallback = h.param(1).ok_or(RenderErrorReason::ParamNotFoundForIndex("default", 1))?;
    if fallback.is_value_missing() {
        return Err(missing(fallback));
    }
    Ok(fallback.value().clone())
}

/// `upper`, `lower`, `capitalize` (first letter), `title` (every word).
#[derive(Clone, Copy)]
enum Case {
    Upper,
    Lower,
    Capitalize,
    Title,
}

/// Upper-cases the first letter of `word`, leaving the rest as written.
fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn change_case(h: &Helper<'_>, case: Case) -> Result<Value, RenderError> {
    let s = text_param(h, 0)?;
    Ok(Value::String(match case {
        Case::Upper => s.to_uppercase(),
        Case::Lower => s.to_lowercase(),
        Case::Capitalize => capitalize(&s),
        Case::Title => s.split(' ').map(|w| capitalize(&w.to_lowercase())).collect::<Vec<_>>().join(" "),
    }))
}

/// A date value: a full date, or a month and day (birthdays without a year).
#[derive(Debug, Clone, Copy, PartialEq)]
enum DateValue {
    Full(NaiveDate),
    MonthDay(u32, u32),
}

fn parse_date_value(s: &str) -> Option<DateValue> {
    let s = s.trim();
    let head = s.get(..10).unwrap_or(s);
    if let Ok(d) = NaiveDate::parse_from_str(head, "%Y-%m-%d") {
        return Some(DateValue::Full(d));
    }
    let (m, d) = s.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2000 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2000, m, d).map(|_| DateValue::MonthDay(m, d))
}

/// What `date` can write.
const DATE_FORMATS: &str = "long, full, day-month, month, weekday, year, iso";

/// Writes a date in a format, language and calendar.
fn format_date(value: DateValue, format: &str, lang: Lang, hijri: bool) -> Result<String, String> {
    if hijri {
        let DateValue::Full(d) = value else {
            return Err("a date without a year cannot be written in the Hijri calendar".into());
        };
        let h = calendar::to_hijri(d).ok_or("the date is outside the Hijri tables")?;
        let month = calendar::hijri_month_name(h.month, lang);
        let era = if lang == Lang::Ar { "هـ" } else { "AH" };
        return Ok(match format {
            "long" => format!("{} {month} {} {era}", h.day, h.year),
            "full" => format!("{} {} {month} {} {era}", calendar::weekday_name(d.weekday(), lang), h.day, h.year),
            "day-month" => format!("{} {month}", h.day),
            "month" => month.to_string(),
            "weekday" => calendar::weekday_name(d.weekday(), lang).to_string(),
            "year" => h.year.to_string(),
            "iso" => format!("{:04}-{:02}-{:02}", h.year, h.month, h.day),
            other => return Err(format!("unknown format {other:?} ({DATE_FORMATS})")),
        });
    }
    let (month, day) = match value {
        DateValue::Full(d) => (d.month(), d.day()),
        DateValue::MonthDay(m, d) => (m, d),
    };
    let name = calendar::month_name(month, lang);
    let day_month = match lang {
        Lang::En => format!("{name} {day}"),
        Lang::Ar => format!("{day} {name}"),
    };
    let full_date = |need: &str| match value {
        DateValue::Full(d) => Ok(d),
        DateValue::MonthDay(..) => Err(format!("format {need:?} needs a year; the value is only a month and day")),
    };
    Ok(match format {
        "long" => match (value, lang) {
            (DateValue::MonthDay(..), _) => day_month,
            (DateValue::Full(d), Lang::En) => format!("{day_month}, {}", d.year()),
            (DateValue::Full(d), Lang::Ar) => format!("{day_month} {}", d.year()),
        },
        "full" => {
            let d = full_date("full")?;
            let weekday = calendar::weekday_name(d.weekday(), lang);
            match lang {
                Lang::En => format!("{weekday}, {day_month}, {}", d.year()),
                Lang::Ar => format!("{weekday} {day_month} {}", d.year()),
            }
        }
        "day-month" => day_month,
        "month" => name.to_string(),
        "weekday" => calendar::weekday_name(full_date("weekday")?.weekday(), lang).to_string(),
        "year" => full_date("year")?.year().to_string(),
        "iso" => match value {
            DateValue::Full(d) => d.to_string(),
            DateValue::MonthDay(m, d) => format!("{m:02}-{d:02}"),
        },
        other => return Err(format!("unknown format {other:?} ({DATE_FORMATS})")),
    })
}

fn hash_text(h: &Helper<'_>, key: &str) -> Option<String> {
    h.hash_get(key).and_then(|v| v.value().as_str().map(str::to_string))
}

/// `{{date contact.birthday "day-month"}}`, `{{date today "long" calendar="hijri"}}`.
fn date(h: &Helper<'_>, root: &Value) -> Result<Value, RenderError> {
    let raw = text_param(h, 0)?;
    let what = h
        .param(0)
        .and_then(|p| p.relative_path().cloned())
        .unwrap_or_else(|| format!("{raw:?}"));
    let value = parse_date_value(&raw)
        .ok_or_else(|| RenderErrorReason::Other(format!("date: {what} is {raw:?}, not a date (YYYY-MM-DD or MM-DD)")))?;
    let format = h.param(1).and_then(|p| p.value().as_str()).unwrap_or("long");
    let locale = hash_text(h, "locale").or_else(|| root.pointer("/contact/locale").and_then(Value::as_str).map(str::to_string));
    let lang = Lang::from_locale(locale.as_deref());
    let hijri = match hash_text(h, "calendar").as_deref() {
        None | Some("gregorian") => false,
        Some("hijri") => true,
        Some(other) => return Err(RenderErrorReason::Other(format!("date: unknown calendar {other:?} (gregorian or hijri)")).into()),
    };
    let text = format_date(value, format, lang, hijri).map_err(|m| RenderErrorReason::Other(format!("date: {m}")))?;
    Ok(Value::String(match hash_text(h, "digits").as_deref() {
        Some("arabic") => calendar::arabic_digits(&text),
        None | Some("latin") => text,
        Some(other) => return Err(RenderErrorReason::Other(format!("date: unknown digits {other:?} (latin or arabic)")).into()),
    }))
}

/// `{{plain value}}` or `{{#plain}}<p>HTML</p>{{/plain}}`: the plain text of some HTML.
struct PlainHelper;

/// Plain text of an HTML fragment, without wrapping lines.
pub fn html_to_text(html: &str) -> String {
    html2text::config::plain_no_decorate()
        .no_link_wrapping()
        .string_from_read(html.as_bytes(), 10_000)
        .unwrap_or_else(|_| html.to_string())
        .trim()
        .to_string()
}

impl HelperDef for PlainHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let html = match h.template() {
            Some(t) if h.is_block() => t.renders(r, ctx, rc)?,
            _ => text_param(h, 0)?,
        };
        Ok(ScopedJson::Derived(Value::String(html_to_text(&html))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, data: Value) -> Result<String, String> {
        let mut h = Handlebars::new();
        h.set_strict_mode(true);
        h.register_escape_fn(handlebars::no_escape);
        register(&mut h);
        h.render_template(template, &data).map_err(|e| e.to_string())
    }

    #[test]
    fn default_fills_only_empty_values() {
        let t = r#"{{default contact.first_name "صديقي"}}"#;
        assert_eq!(render(t, json!({"contact": {}})).unwrap(), "صديقي");
        assert_eq!(render(t, json!({"contact": {"first_name": ""}})).unwrap(), "صديقي");
        assert_eq!(render(t, json!({"contact": {"first_name": "Ann"}})).unwrap(), "Ann");
    }

    #[test]
    fn case_helpers() {
        let data = json!({"n": "élodie o'neil", "a": "أحمد"});
        assert_eq!(render("{{upper n}}", data.clone()).unwrap(), "ÉLODIE O'NEIL");
        assert_eq!(render("{{capitalize n}}", data.clone()).unwrap(), "Élodie o'neil");
        assert_eq!(render("{{title n}}", data.clone()).unwrap(), "Élodie O'neil");
        assert_eq!(render("{{lower (upper n)}}", data.clone()).unwrap(), "élodie o'neil");
        assert_eq!(render("{{capitalize a}}", data).unwrap(), "أحمد", "Arabic has no case");
    }

    #[test]
    fn helpers_keep_strict_mode() {
        let e = render("{{upper contact.nick}}", json!({"contact": {}})).unwrap_err();
        assert!(e.contains("contact.nick"), "{e}");
        let e = render("{{date contact.birthday}}", json!({"contact": {}})).unwrap_err();
        assert!(e.contains("contact.birthday"), "{e}");
    }

    #[test]
    fn dates_in_english_and_arabic() {
        let en = json!({"contact": {"locale": "en"}, "d": "2026-05-17", "b": "02-29"});
        assert_eq!(render("{{date d}}", en.clone()).unwrap(), "May 17, 2026");
        assert_eq!(render(r#"{{date d "full"}}"#, en.clone()).unwrap(), "Sunday, May 17, 2026");
        assert_eq!(render("{{date b}}", en.clone()).unwrap(), "February 29");
        let e = render(r#"{{date b "weekday"}}"#, en.clone()).unwrap_err();
        assert!(e.contains("needs a year"), "{e}");
        let ar = json!({"contact": {"locale": "ar-SA"}, "d": "2026-05-17"});
        assert_eq!(render("{{date d}}", ar.clone()).unwrap(), "17 مايو 2026");
        assert_eq!(
            render(r#"{{date d "full" digits="arabic"}}"#, ar.clone()).unwrap(),
            "الأحد ١٧ مايو ٢٠٢٦"
        );
        assert_eq!(render(r#"{{date d locale="en"}}"#, ar).unwrap(), "May 17, 2026");
        let e = render("{{date d}}", json!({"d": "17/05/2026"})).unwrap_err();
        assert!(e.contains("not a date"), "{e}");
    }

    #[test]
    fn hijri_dates() {
        // 1 Shawwal 1447 (Eid al-Fitr) is 20 March 2026 in the Umm al-Qura calendar.
        let ar = json!({"contact": {"locale": "ar"}, "d": "2026-03-20"});
        assert_eq!(render(r#"{{date d calendar="hijri"}}"#, ar.clone()).unwrap(), "1 شوال 1447 هـ");
        assert_eq!(
            render(r#"{{date d "day-month" calendar="hijri" locale="en"}}"#, ar).unwrap(),
            "1 Shawwal"
        );
    }

    #[test]
    fn plain_text_of_html() {
        let data = json!({"h": "<p>Hello <b>Ann</b> &amp; co</p>"});
        assert_eq!(render("{{plain h}}", data.clone()).unwrap(), "Hello Ann & co");
        assert_eq!(render("{{#plain}}<p>Hi {{h}}</p>{{/plain}}", json!({"h": "x"})).unwrap(), "Hi x");
    }
}
