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

/// Packs weights into parts of `size` without splitting an item; returns the number of parts.
fn pack(weights: impl Iterator<Item = usize>, size: usize) -> usize {
    let (mut parts, mut used) = (1, 0);
    for w in weights {
        if used + w > size {
            parts += 1;
            used = 0;
        }
        used += w;
    }
    parts
}

/// Counts the segments of `body`.
pub fn count(body: &str) -> Segments {
    let (encoding, weights, single, per_part) = match body.chars().map(gsm_weight).collect::<Option<Vec<usize>>>() {
        Some(septets) => (Encoding::Gsm7, septets, 160, 153),
        None => (Encoding::Ucs2, body.chars().map(char::len_utf16).collect(), 70, 67),
    };
    let units: usize = weights.iter().sum();
    let parts = if units <= single { 1 } else { pack(weights.into_iter(), per_part) };
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
}
