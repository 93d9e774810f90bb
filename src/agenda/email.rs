//! The agenda as an email to an agent, made to be read and acted on from a phone: one block
//! per item (no wide table), phone numbers as `tel:` and `sms:` links, an email link where a
//! call has no phone, and per item the four signed action links ([`super::links`]). English,
//! or Arabic right to left (`[agents.NAME] locale`).

use super::AgendaItem;
use super::links::{Action, Link, url};
use crate::render::escape_html as esc;
use chrono::NaiveDate;

/// Who the email is for and how its links are made.
pub struct Addressee<'a> {
    /// The agent (`*`: the items of no listed agent).
    pub agent: &'a str,
    /// `en` or `ar`.
    pub lang: &'a str,
    /// Where `nurture serve` answers the links (`[unsubscribe] base_url`).
    pub base_url: &'a str,
    /// The key links are sealed with (`[unsubscribe] secret`).
    pub secret: &'a str,
}

/// Words of the email in one language.
struct Words {
    subject: &'static str,
    heading: &'static str,
    nothing: &'static str,
    overdue: &'static str,
    no_phone: &'static str,
    write: &'static str,
    text: &'static str,
    responded: &'static str,
    footer: &'static str,
    channels: [(&'static str, &'static str); 4],
}

const EN: Words = Words {
    subject: "Your agenda for",
    heading: "Agenda for",
    nothing: "Nothing to do.",
    overdue: "overdue since",
    no_phone: "No phone number",
    write: "write instead",
    text: "Text",
    responded: "responded",
    footer: "Each link opens a page that asks before it acts; links work for",
    channels: [("call", "call"), ("card", "card"), ("letter", "letter"), ("gift", "gift")],
};

const AR: Words = Words {
    subject: "جدول أعمالك ليوم",
    heading: "جدول أعمال يوم",
    nothing: "لا شيء اليوم.",
    overdue: "متأخر منذ",
    no_phone: "لا رقم هاتف",
    write: "اكتب بدلاً من ذلك",
    text: "رسالة",
    responded: "ردّ",
    footer: "كل رابط يفتح صفحة تسأل قبل التنفيذ؛ تعمل الروابط لمدة",
    channels: [("call", "اتصال"), ("card", "بطاقة"), ("letter", "رسالة بريدية"), ("gift", "هدية")],
};

fn words(lang: &str) -> &'static Words {
    if lang == "ar" { &AR } else { &EN }
}

impl Words {
    fn channel<'a>(&self, c: &'a str) -> &'a str {
        self.channels.iter().find(|(k, _)| *k == c).map_or(c, |(_, v)| v)
    }
}

/// The agenda of `date` as an email to `to`: subject, plain text, HTML. Links work for
/// `link_days` days.
pub fn to_email(date: NaiveDate, to: &Addressee<'_>, items: &[AgendaItem], link_days: u32) -> (String, String, String) {
    let w = words(to.lang);
    let count = |c: &str| items.iter().filter(|i| i.channel == c).count();
    let subject = if to.lang == "ar" {
        format!(
            "{} {date}: {} اتصال، {} بطاقة، {} رسالة بريدية، {} هدية",
            w.subject,
            count("call"),
            count("card"),
            count("letter"),
            count("gift")
        )
    } else {
        format!(
            "{} {date}: {} call(s), {} card(s), {} letter(s), {} gift(s)",
            w.subject,
            count("call"),
            count("card"),
            count("letter"),
            count("gift")
        )
    };
    let links = |i: &AgendaItem| -> Vec<(Action, String)> {
        Action::ALL
            .iter()
            .map(|&action| {
                let link = Link {
                    agent: to.agent.to_string(),
                    item_id: i.id.clone(),
                    action,
                    agenda_date: date,
                };
                (action, url(to.base_url, &link.seal(to.secret)))
            })
            .collect()
    };
    let mut text = super::to_markdown(date, items);
    let mut blocks = String::new();
    for i in items {
        let item_links = links(i);
        text.push_str(&format!("\n{} {}:\n", i.short, display_name(i)));
        for (action, href) in &item_links {
            text.push_str(&format!("  {}: {href}\n", action.label(to.lang)));
        }
        blocks.push_str(&item_block(date, i, w, to.lang, &item_links));
    }
    if items.is_empty() {
        blocks.push_str(&format!("<p>{}</p>", w.nothing));
    }
    let (dir, align) = if to.lang == "ar" { ("rtl", "right") } else { ("ltr", "left") };
    let days = if to.lang == "ar" {
        format!("{link_days} يوماً")
    } else {
        format!("{link_days} days")
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
<body style=\"margin:0;padding:12px;font-family:system-ui,Tahoma,sans-serif;font-size:16px;color:#222;background:#f4f4f0;text-align:{align}\">\
<h1 style=\"font-size:20px\">{heading} {date}</h1><p>{agent}</p>{blocks}\
<p style=\"color:#666;font-size:13px\">{footer} {days}.</p></body></html>",
        lang = to.lang,
        heading = w.heading,
        agent = esc(to.agent),
        footer = w.footer,
    );
    (subject, text, html)
}

fn display_name(i: &AgendaItem) -> &str {
    if i.name.is_empty() { &i.contact_id } else { &i.name }
}

/// One item: what, who, how to reach them, where they stand, and the four links.
fn item_block(date: NaiveDate, i: &AgendaItem, w: &Words, lang: &str, links: &[(Action, String)]) -> String {
    let mut reach = Vec::new();
    if !i.phone.is_empty() {
        let p = esc(&i.phone);
        reach.push(format!(
            "<a href=\"tel:{p}\" style=\"font-size:18px\"><bdi dir=\"ltr\">{p}</bdi></a> · <a href=\"sms:{p}\">{}</a>",
            w.text
        ));
    } else if i.channel == "call" {
        let write = if i.email.is_empty() {
            String::new()
        } else {
            format!(" — <a href=\"mailto:{e}\">{}: <bdi>{e}</bdi></a>", w.write, e = esc(&i.email))
        };
        reach.push(format!("<b class=\"no-phone\">{}</b>{write}", w.no_phone));
    }
    if !i.email.is_empty() && !i.lacks_phone() {
        reach.push(format!("<a href=\"mailto:{e}\"><bdi>{e}</bdi></a>", e = esc(&i.email)));
    }
    if !i.address.is_empty() {
        reach.push(esc(&i.address));
    }
    let mut standing = vec![esc(&i.stage)];
    if !i.last_touch.is_empty() {
        standing.push(esc(&i.last_touch));
    }
    if i.responder {
        standing.push(w.responded.to_string());
    }
    let overdue = if i.is_overdue(date) {
        format!(" <b style=\"color:#8a1c1c\">{} {}</b>", w.overdue, esc(&i.due))
    } else {
        String::new()
    };
    let note = if i.note.is_empty() {
        String::new()
    } else {
        format!("<div>{}</div>", esc(&i.note))
    };
    let buttons: String = links
        .iter()
        .map(|(action, href)| {
            let colour = if *action == Action::NotInterested { "#666" } else { "#1c5a8a" };
            format!(
                "<a class=\"act-{slug}\" href=\"{href}\" style=\"display:inline-block;margin:4px 4px 0 0;padding:8px 12px;border-radius:6px;background:{colour};color:#fff;text-decoration:none\">{label}</a>",
                slug = action.slug(),
                href = esc(href),
                label = action.label(lang)
            )
        })
        .collect();
    format!(
        "<div class=\"item\" style=\"background:#fff;border-radius:8px;padding:12px;margin:0 0 12px\">\
<div><b>{channel}</b>{overdue} · <code>{short}</code></div><div style=\"font-size:18px\"><b>{who}</b></div>\
<div>{reach}</div><div style=\"color:#555\">{standing} · {plan} / {touch}</div>{note}<div>{buttons}</div></div>",
        channel = w.channel(&i.channel),
        short = esc(&i.short),
        who = esc(display_name(i)),
        reach = reach.join("<br>"),
        standing = standing.join(" · "),
        plan = esc(&i.plan),
        touch = esc(&i.touch),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(channel: &str, phone: &str, email: &str) -> AgendaItem {
        serde_json::from_value(serde_json::json!({
            "id": format!("c-1|8x8|w8-{channel}|2026-11-20"), "short": "K7Q2XM", "due": "2026-11-20",
            "channel": channel, "contact_id": "c-1", "name": "Olivia <Bennett>", "phone": phone,
            "email": email, "address": "", "agent": "sara", "plan": "8x8", "touch": "w8", "note": ""
        }))
        .unwrap()
    }

    fn to(lang: &'static str) -> Addressee<'static> {
        Addressee {
            agent: "sara",
            lang,
            base_url: "https://nurture.example.com/",
            secret: "k",
        }
    }

    #[test]
    fn phones_are_tel_and_sms_links_and_every_item_has_four_signed_links() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let (subject, text, html) = to_email(date, &to("en"), &[item("call", "+12172010000", "o@example.com")], 14);
        assert!(subject.starts_with("Your agenda for 2026-11-20: 1 call(s)"));
        assert!(html.contains("href=\"tel:+12172010000\"") && html.contains("href=\"sms:+12172010000\""));
        assert!(html.contains("Olivia &lt;Bennett&gt;"), "escaped");
        let hrefs: Vec<&str> = html.split("href=\"https://nurture.example.com/a/").skip(1).collect();
        assert_eq!(hrefs.len(), 4, "{html}");
        for (href, action) in hrefs.iter().zip(Action::ALL) {
            let token = &href[..href.find('"').unwrap()];
            let link = Link::open(&["k"], token).unwrap();
            assert_eq!((link.action, link.agent.as_str(), link.agenda_date), (action, "sara", date));
            assert!(text.contains(token), "the text part has the links too");
        }
    }

    #[test]
    fn a_call_without_a_phone_says_so_and_offers_the_email() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let (_, text, html) = to_email(date, &to("en"), &[item("call", "", "o@example.com")], 14);
        assert!(
            html.contains("No phone number") && html.contains("href=\"mailto:o@example.com\""),
            "{html}"
        );
        assert!(!html.contains("tel:"));
        assert!(text.contains("**no phone number**: write to o@example.com instead"), "{text}");
        let (_, _, card) = to_email(date, &to("en"), &[item("card", "", "o@example.com")], 14);
        assert!(!card.contains("No phone number"), "only calls need a phone");
    }

    #[test]
    fn an_arabic_agent_gets_the_email_right_to_left() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let (subject, _, html) = to_email(date, &to("ar"), &[item("call", "+12172010000", "")], 14);
        assert!(subject.starts_with("جدول أعمالك ليوم 2026-11-20: 1 اتصال"));
        assert!(html.contains("dir=\"rtl\"") && html.contains(">تم</a>") && html.contains(">غير مهتم</a>"));
        assert!(
            html.contains("<bdi dir=\"ltr\">+12172010000</bdi>"),
            "the number keeps its direction"
        );
    }
}
