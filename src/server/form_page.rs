//! The HTML of the public lead form: the form itself (with the values and the problems of a
//! refused post), the thank-you page and the too-many page, in English or right to left in
//! Arabic. No JavaScript; the honeypot field is clipped away by CSS, so people never see
//! it and simple bots fill it.

use crate::render::escape_html;
use std::collections::BTreeMap;

/// The name of the honeypot field: a post that fills it stores nothing.
pub const HONEYPOT: &str = "website";

/// The name of the SMS consent checkbox.
pub const SMS_CONSENT: &str = "sms_consent";

/// The words of the pages in one language.
pub struct Words {
    lang: &'static str,
    dir: &'static str,
    heading: &'static str,
    intro: &'static str,
    first_name: &'static str,
    last_name: &'static str,
    email: &'static str,
    phone: &'static str,
    message: &'static str,
    sms: &'static str,
    send: &'static str,
    privacy: &'static str,
    honeypot: &'static str,
    fix: &'static str,
    thanks_title: &'static str,
    thanks: &'static str,
    too_many: &'static str,
}

/// English.
pub static ENGLISH: Words = Words {
    lang: "en",
    dir: "ltr",
    heading: "Get in touch",
    intro: "Leave your details and we will contact you.",
    first_name: "First name",
    last_name: "Last name",
    email: "Email",
    phone: "Phone",
    message: "Your message",
    sms: "You may text me at this number (reply STOP to stop).",
    send: "Send",
    privacy: "We use these details only to answer you and to keep you informed; every email has an unsubscribe link.",
    honeypot: "Leave this field empty",
    fix: "Please check the fields marked below.",
    thanks_title: "Thank you",
    thanks: "We received your details and will be in touch soon.",
    too_many: "Too many submissions from your network this minute. Please try again in a minute.",
};

/// Arabic, right to left.
pub static ARABIC: Words = Words {
    lang: "ar",
    dir: "rtl",
    heading: "تواصل معنا",
    intro: "اترك بياناتك وسنتواصل معك.",
    first_name: "الاسم الأول",
    last_name: "اسم العائلة",
    email: "البريد الإلكتروني",
    phone: "الهاتف",
    message: "رسالتك",
    sms: "أوافق على تلقي رسائل نصية على هذا الرقم (أرسل STOP لإيقافها).",
    send: "إرسال",
    privacy: "نستخدم هذه البيانات للرد عليك وإبقائك على اطلاع فقط، وفي كل رسالة بريد رابط لإلغاء الاشتراك.",
    honeypot: "اترك هذا الحقل فارغًا",
    fix: "يرجى مراجعة الحقول المشار إليها أدناه.",
    thanks_title: "شكرًا لك",
    thanks: "وصلتنا بياناتك وسنتواصل معك قريبًا.",
    too_many: "محاولات كثيرة من شبكتك في هذه الدقيقة. يرجى المحاولة بعد دقيقة.",
};

impl Words {
    /// Arabic for a source whose locale is Arabic, English otherwise.
    pub fn for_locale(locale: &str) -> &'static Words {
        if locale.to_ascii_lowercase().starts_with("ar") {
            &ARABIC
        } else {
            &ENGLISH
        }
    }
}

const STYLE: &str = "label{display:block;margin:14px 0 4px;font-weight:600}\
input,textarea{width:100%;box-sizing:border-box;font:inherit;padding:8px;border:1px solid #999;border-radius:4px}\
input[type=checkbox]{width:auto;margin-inline-end:8px}.check{display:flex;align-items:flex-start;font-weight:400}\
[aria-invalid=true]{border-color:#b00020}.error{color:#b00020;margin:4px 0}\
.hp{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}\
button{margin-top:18px}small{display:block;margin-top:18px;color:#555}";

/// The form, with the `values` and `errors` of a refused post (both empty at first).
pub fn form(w: &Words, sender: &str, postal: &str, values: &BTreeMap<String, String>, errors: &BTreeMap<String, String>) -> String {
    let value = |name: &str| escape_html(values.get(name).map(String::as_str).unwrap_or(""));
    let mut shown = Vec::new();
    let mut field = |name: &str, label: &str, kind: &str, extra: &str| {
        // "email or phone" (neither given) is shown under the email field.
        let problem = errors
            .get(name)
            .or_else(|| (name == "email").then(|| errors.get("email or phone")).flatten());
        let (invalid, note) = match problem {
            Some(p) => (
                " aria-invalid=\"true\"",
                format!("<p class=\"error\" id=\"error-{name}\">{}</p>", escape_html(p)),
            ),
            None => ("", String::new()),
        };
        shown.push(name.to_string());
        let input = if kind == "textarea" {
            format!(
                "<textarea id=\"{name}\" name=\"{name}\" rows=\"4\" maxlength=\"2000\"{invalid}>{}</textarea>",
                value(name)
            )
        } else {
            format!(
                "<input id=\"{name}\" name=\"{name}\" type=\"{kind}\" value=\"{}\" maxlength=\"200\"{extra}{invalid}>",
                value(name)
            )
        };
        format!("<label for=\"{name}\">{label}</label>{input}{note}")
    };
    let fields = [
        field("first_name", w.first_name, "text", " autocomplete=\"given-name\""),
        field("last_name", w.last_name, "text", " autocomplete=\"family-name\""),
        field("email", w.email, "email", " autocomplete=\"email\" dir=\"ltr\""),
        field("phone", w.phone, "tel", " autocomplete=\"tel\" dir=\"ltr\""),
        field("message", w.message, "textarea", ""),
    ]
    .concat();
    shown.push("email or phone".into());
    let others: String = errors
        .iter()
        .filter(|(name, _)| !shown.contains(name))
        .map(|(name, p)| format!("<li>{}: {}</li>", escape_html(name), escape_html(p)))
        .collect();
    let summary = if errors.is_empty() {
        String::new()
    } else {
        format!(
            "<div id=\"errors\" role=\"alert\"><p class=\"error\">{}</p><ul>{others}</ul></div>",
            w.fix
        )
    };
    let checked = if values.contains_key(SMS_CONSENT) { " checked" } else { "" };
    let body = format!(
        "<h1>{heading}</h1><p>{intro}</p>{summary}<form method=\"post\" id=\"lead\">{fields}\
<label class=\"check\"><input type=\"checkbox\" id=\"{SMS_CONSENT}\" name=\"{SMS_CONSENT}\" value=\"yes\"{checked}>{sms}</label>\
<div class=\"hp\" aria-hidden=\"true\"><label for=\"{HONEYPOT}\">{honeypot}</label>\
<input id=\"{HONEYPOT}\" name=\"{HONEYPOT}\" type=\"text\" tabindex=\"-1\" autocomplete=\"off\"></div>\
<button id=\"send\" type=\"submit\">{send}</button></form><small>{privacy}<br>{sender} · {postal}</small>",
        heading = w.heading,
        intro = w.intro,
        sms = w.sms,
        honeypot = w.honeypot,
        send = w.send,
        privacy = w.privacy,
        sender = escape_html(sender),
        postal = escape_html(postal),
    );
    super::pages::page(w.lang, w.dir, w.heading, STYLE, &body)
}

/// The page after a post was taken.
pub fn thanks(w: &Words, sender: &str) -> String {
    let body = format!(
        "<h1 id=\"thanks\">{}</h1><p>{}</p><small>{}</small>",
        w.thanks_title,
        w.thanks,
        escape_html(sender)
    );
    super::pages::page(w.lang, w.dir, w.thanks_title, STYLE, &body)
}

/// The page of a network that posted too often this minute.
pub fn too_many(w: &Words) -> String {
    let body = format!("<h1 id=\"too-many\">{}</h1>", w.too_many);
    super::pages::page(w.lang, w.dir, w.heading, STYLE, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_post_keeps_its_values_escaped_and_names_each_problem() {
        let values = BTreeMap::from([("first_name".to_string(), "<b>Ann</b>".to_string())]);
        let errors = BTreeMap::from([
            ("email or phone".to_string(), "give an email or a phone".to_string()),
            ("locale".to_string(), "unknown locale".to_string()),
        ]);
        let page = form(&ENGLISH, "Acme", "1 Main St", &values, &errors);
        assert!(page.contains("value=\"&lt;b&gt;Ann&lt;/b&gt;\""), "{page}");
        assert!(page.contains("<p class=\"error\" id=\"error-email\">give an email or a phone</p>"));
        assert!(page.contains("<li>locale: unknown locale</li>"));
        assert!(!page.contains("<li>email or phone"));
        assert!(page.contains("name=\"website\" type=\"text\" tabindex=\"-1\""));
    }

    #[test]
    fn arabic_sources_get_a_right_to_left_page() {
        assert!(std::ptr::eq(Words::for_locale("ar-SA"), &ARABIC));
        assert!(std::ptr::eq(Words::for_locale(""), &ENGLISH));
        let page = form(&ARABIC, "Acme", "1 Main St", &BTreeMap::new(), &BTreeMap::new());
        assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"));
        assert!(!page.contains("id=\"errors\""));
    }
}
