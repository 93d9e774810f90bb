//! How the report writes numbers for people: counts with thousands separators, money in the
//! practice's currency (`[report] currency`), rates as percentages, and `—` where a ratio has
//! no denominator. JSON and CSV keep plain numbers; these are for the page and the text.

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    group(&n.to_string())
}

/// Thousands separators in the integer digits of `digits` (no sign).
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `6083.333` in `USD` → `$6,083.33`; in a currency without a symbol here, `6,083.33 SAR`;
/// negative amounts with a minus sign (`−$1,200.00`).
pub fn money(v: f64, currency: &str) -> String {
    let cents = (v.abs() * 100.0).round() as u64;
    let amount = format!("{}.{:02}", group(&(cents / 100).to_string()), cents % 100);
    let sign = if v < 0.0 && cents > 0 { "−" } else { "" };
    let code = currency.trim().to_ascii_uppercase();
    match code.as_str() {
        "USD" | "CAD" | "AUD" | "NZD" => format!("{sign}${amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "GBP" => format!("{sign}£{amount}"),
        "JPY" => format!("{sign}¥{}", group(&v.abs().round().to_string())),
        "" => format!("{sign}{amount}"),
        _ => format!("{sign}{amount} {code}"),
    }
}

/// `Some(12.345)` → `12.3%`; `None` → `—`.
pub fn percent(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "—".into())
}

/// Money, or `—` without a denominator.
pub fn money_or_none(v: Option<f64>, currency: &str) -> String {
    v.map(|v| money(v, currency)).unwrap_or_else(|| "—".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_money_have_thousands_separators_and_a_currency() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(money(6083.333, "USD"), "$6,083.33");
        assert_eq!(money(-1200.0, "usd"), "−$1,200.00");
        assert_eq!(money(0.004, "EUR"), "€0.00");
        assert_eq!(money(1500000.5, "SAR"), "1,500,000.50 SAR");
        assert_eq!(money(-0.001, "GBP"), "£0.00", "no minus on a zero");
        assert_eq!(percent(Some(12.345)), "12.3%");
        assert_eq!(percent(None), "—");
        assert_eq!(money_or_none(None, "USD"), "—");
    }
}
