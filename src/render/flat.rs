//! The send path's copies of the templates, with their partials and layout written in.
//! handlebars deep-copies the whole render context each time it enters a partial or a layout
//! and renders a layout's block into a string of its own first: with a layout and three
//! partials, most of a message's render time. Written in, the same source gives the same
//! output in one pass.
//!
//! Only what is sure to render the same is written in: a line that is nothing but `{{> name}}`
//! (no parameters, at the start of the line) whose partial ends with a line break — handlebars
//! drops such a standalone line and its line break, so the partial's lines in its place give
//! the same text; a `{{> name}}` within a line whose partial is only text and expressions
//! (nothing in it can be standalone); and a `{{#> layout}}` ... `{{/layout}}` block whose
//! layout holds exactly one `{{> @partial-block}}` line. Anything else (inline partials,
//! parameters, indentation, blocks that would change lines) keeps the call. The originals stay registered: an error
//! is always reported from them, so it names the partial's own file and line.

use std::collections::BTreeMap;

/// How deep partials may nest before a template is left as it is.
const DEPTH: usize = 8;

/// `source` with its partials and layout written in, or `None` when nothing could be.
/// `sources` holds every registered source by template name.
pub fn flatten(source: &str, sources: &BTreeMap<String, String>) -> Option<String> {
    if source.contains("{{#*inline") {
        return None;
    }
    let flat = expand(source, sources, DEPTH)?;
    (flat != source).then_some(flat)
}

fn expand(source: &str, sources: &BTreeMap<String, String>, depth: usize) -> Option<String> {
    let depth = depth.checked_sub(1)?;
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut out = String::with_capacity(source.len() * 2);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(name) = tag(line, "{{>").filter(|n| *n != "@partial-block")
            && let Some(partial) = sources.get(name).filter(|p| p.ends_with('\n') && !p.contains("{{#*inline"))
        {
            out.push_str(&expand(partial, sources, depth)?);
            i += 1;
            continue;
        }
        if let Some((name, rest)) = block_open(line) {
            let close = format!("{{{{/{name}}}}}");
            let end = lines[i + 1..].iter().position(|l| l.trim_end_matches(['\r', '\n']) == close)? + i + 1;
            let layout = sources.get(name)?;
            // Content after the opening tag on its line starts the block (the tag is then not
            // standalone, and neither is anything else on that line): only expressions may
            // stay there, or the line would become standalone once moved into the layout.
            let mut body = String::new();
            if !rest.trim().is_empty() {
                let first = inline_simple(rest, sources);
                if has_block_tags(&first) {
                    return None;
                }
                body.push_str(&first);
            }
            body.push_str(&lines[i + 1..end].concat());
            out.push_str(&with_block(layout, &body, sources, depth)?);
            i = end + 1;
            continue;
        }
        if line.trim().starts_with("{{>") && line.trim().ends_with("}}") && line.trim().matches("{{").count() == 1 {
            // A partial alone on an indented line: handlebars indents every line of it.
            out.push_str(line);
        } else {
            out.push_str(&inline_simple(line, sources));
        }
        i += 1;
    }
    Some(out)
}

/// `{{#> name}}` at the start of a line: the name and what follows the tag on the line.
fn block_open(line: &str) -> Option<(&str, &str)> {
    let after = line.strip_prefix("{{#>")?;
    let (name, rest) = after.split_once("}}")?;
    let name = name.trim();
    plain(name).then_some((name, rest))
}

/// `line` with each `{{> name}}` in it whose partial is plain text and expressions (nothing
/// handlebars could treat as standalone) written in.
fn inline_simple(line: &str, sources: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("{{>") {
        out.push_str(&rest[..at]);
        let call = &rest[at..];
        let Some(end) = call.find("}}") else { break };
        let name = call[3..end].trim();
        match sources.get(name).filter(|p| plain(name) && simple(p)) {
            Some(partial) => out.push_str(partial),
            None => out.push_str(&call[..end + 2]),
        }
        rest = &call[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Text and expressions only: no tag that could stand alone on a line, no whitespace control.
fn simple(partial: &str) -> bool {
    !partial.trim().is_empty() && !has_block_tags(partial) && !partial.contains('~')
}

fn has_block_tags(s: &str) -> bool {
    ["{{#", "{{/", "{{^", "{{else", "{{>", "{{!", "{{{{"].iter().any(|t| s.contains(t))
}

/// A layout with its one `{{> @partial-block}}` line replaced by `body`.
fn with_block(layout: &str, body: &str, sources: &BTreeMap<String, String>, depth: usize) -> Option<String> {
    let slots = layout.split_inclusive('\n').filter(|l| l.contains("@partial-block")).count();
    if slots != 1 || layout.contains("{{#*inline") {
        return None;
    }
    let mut out = String::new();
    for line in layout.split_inclusive('\n') {
        if tag(line, "{{>") == Some("@partial-block") {
            out.push_str(body);
        } else if line.contains("@partial-block") {
            return None;
        } else {
            out.push_str(line);
        }
    }
    expand(&out, sources, depth)
}

/// The name in a line that is exactly `OPEN name}}` (a standalone tag at the start of the
/// line, without parameters).
fn tag<'a>(line: &'a str, open: &str) -> Option<&'a str> {
    let inner = line.trim_end_matches(['\r', '\n']).strip_prefix(open)?.strip_suffix("}}")?.trim();
    plain(inner).then_some(inner)
}

/// A template name alone: no parameters, no hash.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn partials_and_the_layout_are_written_in() {
        let s = sources(&[
            ("layouts/email", "<html>\n{{> @partial-block}}\n{{> partials/footer}}\n</html>\n"),
            ("partials/footer", "<p>{{sender.name}}</p>\n"),
            ("partials/greeting", "<p>Dear {{contact.first_name}},</p>\n"),
        ]);
        let flat = flatten(
            "\n\n{{#> layouts/email}}\n{{> partials/greeting}}\n<p>Hi</p>\n{{/layouts/email}}\n",
            &s,
        )
        .unwrap();
        assert_eq!(
            flat,
            "\n\n<html>\n<p>Dear {{contact.first_name}},</p>\n<p>Hi</p>\n<p>{{sender.name}}</p>\n</html>\n"
        );
    }

    #[test]
    fn calls_that_might_render_differently_are_kept() {
        let s = sources(&[("p", "<p>x</p>"), ("q", "<p>y</p>\n")]);
        // A partial without a final line break, one with parameters, one indented.
        for source in ["{{> p}}\n", "{{> q name=\"a\"}}\n", "  {{> q}}\n"] {
            assert_eq!(flatten(source, &s), None, "{source}");
        }
        // Within a line, a partial of text and expressions is written in; one with a block
        // is not (its lines could become standalone).
        assert_eq!(flatten("<b>{{> q}}</b>\n", &s).as_deref(), Some("<b><p>y</p>\n</b>\n"));
        let block = sources(&[("r", "{{#if a}}x{{/if}}\n")]);
        assert_eq!(flatten("<b>{{> r}}</b>\n", &block), None);
        assert_eq!(flatten("{{> missing}}\n", &s), None);
        // A partial that includes itself is left alone.
        let looped = sources(&[("a", "{{> a}}\n")]);
        assert_eq!(flatten("{{> a}}\n", &looped), None);
    }
}
