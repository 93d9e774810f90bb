//! Spreadsheet cells that are safe to open: a value a spreadsheet would run as a formula
//! (starting with `=`, `+`, `-`, `@`, a tab or a carriage return — OWASP "CSV injection") is
//! written with a leading `'`, which Excel, LibreOffice and Google Sheets show as text. A plain
//! number (`+12175550100`, `-3.5`) stays as it is: a spreadsheet reads it as a number, never as
//! a formula, and phone numbers keep their `+`. Import removes that one `'` again, so an export
//! imports back unchanged.

use std::borrow::Cow;

const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

fn is_plain_number(s: &str) -> bool {
    let digits = s.trim_start_matches(['+', '-']);
    !digits.is_empty()
        && digits.chars().any(|c| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ' ' | '(' | ')' | '-'))
}

/// The cell as written to a CSV for people to open.
pub fn neutralize(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if TRIGGERS.contains(&c) && !is_plain_number(cell) => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// The cell as read back: a `'` that [`neutralize`] put before a formula trigger is removed.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(TRIGGERS) && !is_plain_number(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralized_numbers_and_text_are_not() {
        for f in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+SUM(A1)",
            "-2+3*cmd|' /C calc'!A0",
            "@SUM(1)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(neutralize(f), format!("'{f}"), "{f:?}");
            assert_eq!(restore(&neutralize(f)), f, "round trip of {f:?}");
        }
        for keep in ["+12175550100", "-3.5", "+1 (217) 555-0100", "Ann", "ann@example.com", "", "'quoted"] {
            assert_eq!(neutralize(keep), keep, "{keep:?}");
            assert_eq!(restore(keep), keep, "{keep:?}");
        }
    }
}
