//! Phone numbers: what people write (spaces, dots, dashes, parentheses, `(0)`, a `00`
//! international prefix, Arabic-Indic digits, national numbers) read into E.164 the way
//! libphonenumber reads them, or refused. Never a number changed into another one.

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberFormat, Region};
use serde::{Deserialize, Serialize};

/// A phone number in E.164 form (`+15551234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    /// Parses a number. One with a country code (`+49 …`, or `0049 …`: `00` is read as the
    /// international prefix, as in most of the world) keeps it whatever `default_region` says;
    /// one without is read as a national number of `default_region` (ISO code such as `US`).
    /// Only a number libphonenumber rates valid is accepted.
    pub fn parse(raw: &str, default_region: &str) -> Result<E164, String> {
        let region = default_region.trim().to_ascii_uppercase().parse::<Region>().ok();
        let trimmed = raw.trim();
        let written = match trimmed.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => trimmed.to_string(),
        };
        let number = PHONE_NUMBER_UTIL
            .parse(&written, region)
            .map_err(|e| format!("not a phone number: {raw:?} ({e})"))?;
        if !number.is_valid() {
            return Err(format!(
                "not a valid phone number: {raw:?} (write it with its country code, such as +44 20 7946 0958)"
            ));
        }
        Ok(E164(number.format_as(PhoneNumberFormat::E164).into_owned()))
    }

    /// The number, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str, region: &str) -> Result<String, String> {
        E164::parse(raw, region).map(|p| p.0)
    }

    #[test]
    fn a_foreign_number_keeps_its_country_under_any_default_region() {
        for (raw, want) in [
            ("+49 176 12345678", "+4917612345678"),
            ("+49 162 1234567", "+491621234567"),
            ("+33 1 42 68 53 00", "+33142685300"),
            ("+43 1 5131234", "+4315131234"),
            ("+44 121 234 5678", "+441212345678"),
            ("+49 (0)30 12345678", "+493012345678"),
            ("0049 30 12345678", "+493012345678"),
        ] {
            assert_eq!(e164(raw, "US").as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn national_numbers_arabic_digits_and_bad_numbers() {
        assert_eq!(e164("(217) 555-0123", "US").as_deref(), Ok("+12175550123"));
        assert_eq!(e164("٠١٧٦ ١٢٣٤٥٦٧٨", "DE").as_deref(), Ok("+4917612345678"));
        assert_eq!(e164("030 12345678", "de").as_deref(), Ok("+493012345678"));
        assert!(e164("+49 176 1", "US").is_err());
        assert!(e164("12", "US").is_err());
        assert!(e164("not a number", "US").is_err());
    }
}
