//! SMS segmentation (GSM 03.38): whether a body fits the GSM 7-bit alphabet, how many
//! characters it counts, and how many parts it is sent in. Extension characters count two
//! septets and are never split across parts; anything outside the alphabet (Arabic, emoji)
//! forces UCS-2: 70 units in one part, 67 per part when split (surrogate pairs kept whole).

use serde::Serialize;

/// The encoding an SMS body needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    /// GSM 03.38 7-bit default alphabet (+ extension table).
    #[serde(rename = "GSM-7")]
    Gsm7,
    /// UCS-2 (UTF-16 code units).
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        })
    }
}

/// How a body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segments {
    /// GSM-7 or UCS-2.
    pub encoding: Encoding,
    /// Characters as the network counts them (septets, or UTF-16 units).
    pub units: usize,
    /// Number of parts.
    pub parts: usize,
}

const BASIC: &str =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "^{}\\[~]|€\u{c}";

fn gsm_weight(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Packs weighted items into parts of `size` without splitting an item; returns the index
/// of the first item of every part after the first.
fn pack(weights: impl Iterator<Item = usize>, size: usize) -> Vec<usize> {
    let (mut starts, mut used) = (Vec::new(), 0);
    for (i, w) in weights.enumerate() {
        if used + w > size {
            starts.push(i);
            used = 0;
        }
        used += w;
    }
    starts
}

/// Encoding, per-character weights, single-part limit and per-part limit of `body`.
fn measure(body: &str) -> (Encoding, Vec<usize>, usize, usize) {
    match body.chars().map(gsm_weight).collect::<Option<Vec<usize>>>() {
        Some(septets) => (Encoding::Gsm7, septets, 160, 153),
        None => (Encoding::Ucs2, body.chars().map(char::len_utf16).collect(), 70, 67),
    }
}

/// The body cut where the network cuts it (one string when it fits in a single part).
pub fn split(body: &str) -> Vec<String> {
    let (_, weights, single, per_part) = measure(body);
    if weights.iter().sum::<usize>() <= single {
        return vec![body.to_string()];
    }
    let chars: Vec<char> = body.chars().collect();
    let mut bounds = pack(weights.into_iter(), per_part);
    bounds.push(chars.len());
    let mut from = 0;
    bounds
        .into_iter()
        .map(|to| {
            let part: String = chars[from..to].iter().collect();
            from = to;
            part
        })
        .collect()
}

/// Counts the segments of `body`.
pub fn count(body: &str) -> Segments {
    let (encoding, weights, single, per_part) = measure(body);
    let units: usize = weights.iter().sum();
    let parts = if units <= single {
        1
    } else {
        pack(weights.into_iter(), per_part).len() + 1
    };
    Segments { encoding, units, parts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm_limits() {
        assert_eq!(
            count(&"a".repeat(160)),
            Segments {
                encoding: Encoding::Gsm7,
                units: 160,
                parts: 1
            }
        );
        assert_eq!(count(&"a".repeat(161)).parts, 2);
        assert_eq!(count(&"a".repeat(306)).parts, 2);
        assert_eq!(count(&"a".repeat(307)).parts, 3);
        assert_eq!(count("").parts, 1);
    }

    #[test]
    fn extension_characters_count_two_and_are_not_split() {
        assert_eq!(count("€").units, 2);
        assert_eq!(count(&"{".repeat(80)).units, 160);
        assert_eq!(count(&"{".repeat(80)).parts, 1);
        // 152 septets, then a 2-septet character: it cannot straddle parts 1 and 2.
        let body = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        let s = count(&body);
        assert_eq!((s.units, s.parts), (164, 2));
        let body = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(count(&body).parts, 3, "the € moves to part 2, so part 2 overflows");
    }

    #[test]
    fn arabic_forces_ucs2() {
        let ar = "مرحبا".repeat(14);
        assert_eq!(
            count(&ar),
            Segments {
                encoding: Encoding::Ucs2,
                units: 70,
                parts: 1
            }
        );
        let ar = "مرحبا".repeat(15);
        assert_eq!(count(&ar).parts, 2);
        assert_eq!(count(&"ب".repeat(134)).parts, 2);
        assert_eq!(count(&"ب".repeat(135)).parts, 3);
        assert_eq!(count("café").encoding, Encoding::Gsm7, "é is in the GSM alphabet");
        assert_eq!(count("naïve").encoding, Encoding::Ucs2, "ï is not");
        assert_eq!(count("hi 🙂").units, 5, "an emoji is two UTF-16 units");
    }

    #[test]
    fn split_cuts_where_the_network_cuts() {
        assert_eq!(split("hello"), vec!["hello"]);
        let ar = "ب".repeat(135);
        let parts = split(&ar);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), vec![67, 67, 1]);
        assert_eq!(parts.concat(), ar);
        let body = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(split(&body)[1], format!("€{}", "a".repeat(10)), "the € is not split");
        let emoji = format!("{}🙂", "ب".repeat(66));
        assert_eq!(
            split(&format!("{emoji}{}", "ب".repeat(10)))[1].chars().next(),
            Some('🙂'),
            "a surrogate pair stays whole"
        );
    }
}
