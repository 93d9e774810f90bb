//! The unsubscribe pages: a confirmation with one button (no JavaScript, no login, no
//! cookie), the answer after the button, and the page of a test link. Arabic contacts get them right-to-left. The
//! page shell is shared with the lead form.

use crate::render::escape_html;

/// A small page in `lang` and `dir` (`ltr`/`rtl`) with the shared look plus `style`.
pub(super) fn page(lang: &str, dir: &str, title: &str, style: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="{lang}" dir="{dir}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,Tahoma,sans-serif;background:#f4f4f0;margin:0;padding:48px 16px;color:#222}}main{{max-width:480px;margin:auto;background:#fff;border-radius:8px;padding:32px}}button{{font-size:18px;padding:12px 28px;border:0;border-radius:6px;background:#8a1c1c;color:#fff;cursor:pointer}}{style}</style>
</head>
<body><main>{body}</main></body>
</html>
"#
    )
}

/// The confirmation page (GET): one button that POSTs to the same URL.
pub fn confirm(sender: &str, email: Option<&str>, arabic: bool) -> String {
    let sender = escape_html(sender);
    let who = email.map(escape_html);
    if arabic {
        let who = who.map(|w| format!(" (<bdi>{w}</bdi>)")).unwrap_or_default();
        page(
            "ar",
            "rtl",
            "إلغاء الاشتراك",
            "",
            &format!(
                "<h1>إلغاء الاشتراك</h1><p>هل تريد التوقف عن تلقي رسائل {sender} على بريدك الإلكتروني{who}؟</p>\
<form method=\"post\"><button id=\"unsubscribe\" type=\"submit\">نعم، ألغِ اشتراكي</button></form>"
            ),
        )
    } else {
        let who = who.map(|w| format!(" at <b>{w}</b>")).unwrap_or_default();
        page(
            "en",
            "ltr",
            "Unsubscribe",
            "",
            &format!(
                "<h1>Unsubscribe</h1><p>Stop receiving emails from {sender}{who}?</p>\
<form method=\"post\"><button id=\"unsubscribe\" type=\"submit\">Yes, unsubscribe me</button></form>"
            ),
        )
    }
}

/// The answer after unsubscribing.
pub fn done(sender: &str, arabic: bool) -> String {
    let sender = escape_html(sender);
    if arabic {
        page(
            "ar",
            "rtl",
            "تم إلغاء الاشتراك",
            "",
            &format!("<h1 id=\"done\">تم إلغاء اشتراكك</h1><p>لن تصلك رسائل بريد إلكتروني من {sender} بعد الآن.</p>"),
        )
    } else {
        page(
            "en",
            "ltr",
            "Unsubscribed",
            "",
            &format!("<h1 id=\"done\">You are unsubscribed</h1><p>You will not receive emails from {sender} any more.</p>"),
        )
    }
}

/// The page of a test link: a test message's or a preview's link unsubscribes nobody.
pub fn test_message(sender: &str) -> String {
    let sender = escape_html(sender);
    page(
        "en",
        "ltr",
        "Test message",
        "",
        &format!(
            "<h1 id=\"test\">This was a test message</h1><p>Nobody was unsubscribed: this link came from a test \
message or a preview of {sender}. In a real message it unsubscribes the person it was sent to.</p>"
        ),
    )
}

/// `a***@example.com`: enough for its owner to recognise, nothing for anyone else.
pub fn masked_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_masked_address_keeps_its_first_letter_and_domain() {
        assert_eq!(super::masked_email("ann.lee@example.com"), "a***@example.com");
        assert_eq!(super::masked_email("oops"), "***");
    }
}
