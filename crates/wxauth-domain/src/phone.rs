//! Phone numbers, stored normalised as E.164 (`+8613800138000`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A phone number with its country calling code, as WeChat's `getuserphonenumber` verified it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber {
    country_code: String,
    national: String,
}

impl PhoneNumber {
    /// Builds the number from WeChat's `countryCode` and `purePhoneNumber`.
    pub fn from_parts(country_code: &str, national: &str) -> Result<Self, ValidationError> {
        let country_code = country_code.trim().trim_start_matches('+');
        let national = national.trim();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(country_code) || country_code.len() > 4 || country_code.starts_with('0') {
            return Err(ValidationError::new("countryCode", "must be 1 to 4 digits"));
        }
        if !digits(national) || !(4..=15).contains(&national.len()) {
            return Err(ValidationError::new("phone", "must be 4 to 15 digits"));
        }
        if country_code.len() + national.len() > 15 {
            return Err(ValidationError::new("phone", "is longer than E.164 allows"));
        }
        Ok(Self {
            country_code: country_code.to_owned(),
            national: national.to_owned(),
        })
    }

    /// Parses the stored form `+<country code><national number>`; the split is kept in the
    /// separate `country_code` so this is only used together with it.
    pub fn from_e164(e164: &str, country_code: &str) -> Result<Self, ValidationError> {
        let rest = e164
            .strip_prefix('+')
            .and_then(|r| r.strip_prefix(country_code))
            .ok_or_else(|| ValidationError::new("phone", "is not in E.164 form"))?;
        Self::from_parts(country_code, rest)
    }

    /// Parses a number as a person types it into a search box: `+8613800138000`,
    /// `+86 138 0013 8000` or `13800138000`. Spaces, dashes and dots are ignored; a number
    /// without `+` is taken to be in `default_country_code` (wxauth's users are mostly in
    /// mainland China, so callers pass `86`).
    pub fn parse_typed(input: &str, default_country_code: &str) -> Result<Self, ValidationError> {
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        match compact.strip_prefix("00") {
            Some(rest) => Self::try_from(format!("+{rest}")),
            None if compact.starts_with('+') => Self::try_from(compact),
            None => Self::from_parts(default_country_code, &compact),
        }
    }

    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    /// The number without its country code (WeChat's `purePhoneNumber`).
    pub fn national(&self) -> &str {
        &self.national
    }

    /// `+` country code national number: the unique key users are found by.
    pub fn e164(&self) -> String {
        format!("+{}{}", self.country_code, self.national)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}{}", self.country_code, self.national)
    }
}

impl fmt::Debug for PhoneNumber {
    // Phone numbers are personal data: logs get only the last four digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = &self.national[self.national.len().saturating_sub(4)..];
        write!(f, "PhoneNumber(+{} ****{})", self.country_code, tail)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.e164()
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = ValidationError;
    /// Accepts `+<cc><number>` only for the country codes that are unambiguous prefixes in
    /// practice for WeChat users (mainland China and the common one- and two-digit codes).
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let digits = s
            .strip_prefix('+')
            .ok_or_else(|| ValidationError::new("phone", "must start with +"))?;
        // Longest-match on the calling codes: 1 (NANP), 7, 2-digit, then 3-digit.
        for len in 1..=3 {
            if digits.len() <= len {
                break;
            }
            let (cc, rest) = digits.split_at(len);
            if is_calling_code(cc) {
                return Self::from_parts(cc, rest);
            }
        }
        Err(ValidationError::new("phone", "has an unknown country code"))
    }
}

/// ITU-T E.164 country calling codes are prefix-free, so the first one that matches is the one.
fn is_calling_code(cc: &str) -> bool {
    const ONE_DIGIT: &[&str] = &["1", "7"];
    const TWO_DIGIT: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    match cc.len() {
        1 => ONE_DIGIT.contains(&cc),
        2 => TWO_DIGIT.contains(&cc),
        3 => !cc.starts_with('1') && !cc.starts_with('7') && !TWO_DIGIT.contains(&&cc[..2]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_parts_normalise_to_e164() {
        let p = PhoneNumber::from_parts("86", "13800138000").unwrap();
        assert_eq!(p.e164(), "+8613800138000");
        assert_eq!(p.national(), "13800138000");
        let with_plus = PhoneNumber::from_parts("+1", "4155550100").unwrap();
        assert_eq!(with_plus.e164(), "+14155550100");
    }

    #[test]
    fn malformed_numbers_are_rejected() {
        assert!(PhoneNumber::from_parts("86", "").is_err());
        assert!(PhoneNumber::from_parts("86", "138-0013").is_err());
        assert!(PhoneNumber::from_parts("", "13800138000").is_err());
        assert!(PhoneNumber::from_parts("86", "1234567890123456").is_err());
    }

    #[test]
    fn stored_form_round_trips() {
        for (cc, n) in [
            ("86", "13800138000"),
            ("1", "4155550100"),
            ("852", "61234567"),
        ] {
            let p = PhoneNumber::from_parts(cc, n).unwrap();
            assert_eq!(PhoneNumber::try_from(p.e164()).unwrap(), p, "{cc} {n}");
            assert_eq!(PhoneNumber::from_e164(&p.e164(), cc).unwrap(), p);
        }
    }

    #[test]
    fn typed_numbers_parse_with_a_default_country() {
        let cn = PhoneNumber::from_parts("86", "13800138000").unwrap();
        for typed in [
            "13800138000",
            "+8613800138000",
            "+86 138-0013-8000",
            "008613800138000",
        ] {
            assert_eq!(
                PhoneNumber::parse_typed(typed, "86").unwrap(),
                cn,
                "{typed}"
            );
        }
        let us = PhoneNumber::parse_typed("+1 (415) 555-0100", "86").unwrap();
        assert_eq!(us.e164(), "+14155550100");
        assert!(PhoneNumber::parse_typed("Band", "86").is_err());
    }

    #[test]
    fn debug_hides_all_but_the_last_four_digits() {
        let p = PhoneNumber::from_parts("86", "13800138000").unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(+86 ****8000)");
    }
}
