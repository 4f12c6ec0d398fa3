//! Fake users' phone numbers, stored as WeChat reports them: a country code and a pure number.

use serde::{Deserialize, Serialize};

/// A phone number split the way `getuserphonenumber` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPhone {
    /// Digits only, no `+` (`"86"`, `"1"`, `"852"`).
    pub country_code: String,
    /// The national number without country code.
    pub pure_phone_number: String,
}

/// E.164 country calling codes are prefix-free: 1 and 7 are one digit, the two-digit codes are
/// listed here, and every other code has three digits. That is enough to split `+<cc><number>`
/// without separators.
const TWO_DIGIT_CODES: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

impl SimPhone {
    /// Parses `+8613800138000`, `+1 4155550100`, `+852-91234567`, or a bare mainland number
    /// (`13800138000`, taken as +86).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(international) = text.strip_prefix('+') else {
            return Self::from_parts("86", text);
        };
        // An explicit separator after the country code wins over the table.
        if let Some((code, rest)) = international.split_once([' ', '-']) {
            let rest: String = rest.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
            return Self::from_parts(code, &rest);
        }
        let code_len = match international.get(..1) {
            Some("1" | "7") => 1,
            _ => match international.get(..2) {
                Some(two) if TWO_DIGIT_CODES.contains(&two) => 2,
                _ => 3,
            },
        };
        match (international.get(..code_len), international.get(code_len..)) {
            (Some(code), Some(rest)) => Self::from_parts(code, rest),
            _ => Err(format!("phone {text:?} is too short")),
        }
    }

    fn from_parts(code: &str, number: &str) -> Result<Self, String> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(code) || code.len() > 3 {
            return Err(format!("bad country code {code:?}"));
        }
        if !digits(number) || number.len() < 4 || code.len() + number.len() > 15 {
            return Err(format!(
                "bad phone number {number:?}: 4 or more digits, at most 15 with the country code"
            ));
        }
        Ok(Self {
            country_code: code.to_owned(),
            pure_phone_number: number.to_owned(),
        })
    }

    /// `phoneNumber` as WeChat reports it: the bare number for mainland China, `+<cc><number>`
    /// for anything else.
    pub fn phone_number(&self) -> String {
        if self.country_code == "86" {
            self.pure_phone_number.clone()
        } else {
            format!("+{}{}", self.country_code, self.pure_phone_number)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (String, String) {
        let phone = SimPhone::parse(text).unwrap();
        (phone.country_code, phone.pure_phone_number)
    }

    #[test]
    fn splits_country_codes_of_every_length() {
        assert_eq!(parts("+8613800138000"), ("86".into(), "13800138000".into()));
        assert_eq!(parts("+14155550100"), ("1".into(), "4155550100".into()));
        assert_eq!(parts("+85291234567"), ("852".into(), "91234567".into()));
        assert_eq!(parts("+447911123456"), ("44".into(), "7911123456".into()));
        assert_eq!(parts("+1 415-555-0100"), ("1".into(), "4155550100".into()));
        assert_eq!(parts("13800138000"), ("86".into(), "13800138000".into()));
    }

    #[test]
    fn phone_number_has_a_plus_prefix_only_outside_mainland() {
        assert_eq!(
            SimPhone::parse("+8613800138000").unwrap().phone_number(),
            "13800138000"
        );
        assert_eq!(
            SimPhone::parse("+14155550100").unwrap().phone_number(),
            "+14155550100"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "+", "+86", "+86abc", "phone", "+1234567890123456789"] {
            assert!(SimPhone::parse(bad).is_err(), "{bad:?}");
        }
    }
}
