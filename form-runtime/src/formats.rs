//! Custom string formats every Chinese government form needs.
//!
//! Each check is a plain `fn(&str) -> bool` so it can be registered as a JSON
//! Schema `format` (see [`FORMATS`] for the names a schema pack uses). The
//! checks cover the resident ID number (GB 11643-1999), the mainland mobile
//! number, the unified social credit code (GB 32100-2015), the bank card
//! number (Luhn) and the postal code. [`id_number_birth_date`] and
//! [`id_number_is_male`] read the facts an ID number encodes.
//!
//! The one thing to know: `true` means the string is *well-formed*. It has the
//! right length and characters and a consistent check digit, and an ID number
//! also has a plausible region and birth date. It never means the number was
//! issued or belongs to the person filling in the form. Only an
//! authoritative lookup can tell you that.
//!
//! Every check works on ASCII bytes only, so full-width digits (`１１０`),
//! Chinese characters and lowercase letters are rejected without panicking.

use chrono::{NaiveDate, TimeDelta, Utc};

/// A format check: `true` if the string is well-formed for that format.
pub type FormatCheck = fn(&str) -> bool;

/// Every custom format this module provides, by the name a schema uses in its
/// `format` keyword.
pub const FORMATS: &[(&str, FormatCheck)] = &[
    ("id_number", is_id_number),
    ("mobile", is_mobile),
    ("uscc", is_uscc),
    ("bank_card", is_bank_card),
    ("postal_code", is_postal_code),
];

/// ISO 7064 MOD 11-2 weights for the first 17 digits of an ID number.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// ID check character, indexed by the weighted sum modulo 11.
const ID_CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// Earliest birth year an ID number may encode.
const ID_MIN_BIRTH_YEAR: i32 = 1900;

/// The characters a unified social credit code may use. A character's value
/// is its index. I, O, S, V and Z are left out.
const USCC_CHARSET: [u8; 31] = *b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights for the first 17 characters of a unified social credit code
/// (3^i mod 31).
const USCC_WEIGHTS: [usize; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Registration authority codes (first character) that GB 32100 assigns.
const USCC_AUTHORITIES: [u8; 12] = *b"123456789ANY";

/// The check character (GB 11643, ISO 7064 MOD 11-2) of an ID number's first 17 digits;
/// None when `first17` is not 17 ASCII digits. Generators of test and demo data complete
/// their numbers with it.
pub fn id_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut digits = [0u32; 17];
    for (slot, &b) in digits.iter_mut().zip(bytes) {
        *slot = u32::from(b - b'0');
    }
    Some(char::from(check_char(&digits)))
}

/// The check character of 17 digits.
fn check_char(digits: &[u32; 17]) -> u8 {
    let sum: u32 = digits.iter().zip(&ID_WEIGHTS).map(|(d, w)| d * w).sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

/// Whether `s` is a PRC resident ID number (GB 11643-1999).
///
/// The number must have exactly 18 ASCII characters. The first 17 are digits
/// and the last is a digit or an uppercase `X`. A lowercase `x` is rejected.
/// The number must also satisfy all of these:
/// - the ISO 7064 MOD 11-2 check character matches;
/// - the first two digits are a province-level code: GB/T 2260 (11–15, 21–23,
///   31–37, 41–46, 50–54, 61–65, 71, 81, 82), plus 83 (residence permits for
///   Taiwan residents);
/// - digits 7–14 are a real calendar date `YYYYMMDD` no earlier than
///   1900-01-01 and no later than today in China Standard Time (UTC+8).
pub fn is_id_number(s: &str) -> bool {
    parse_id_number(s, today_in_china()).is_some()
}

/// The birth date encoded in an ID number, or `None` if
/// [`is_id_number`] rejects `s`.
pub fn id_number_birth_date(s: &str) -> Option<NaiveDate> {
    parse_id_number(s, today_in_china()).map(|facts| facts.birth_date)
}

/// Whether an ID number belongs to a man (odd 17th digit) or a woman (even
/// 17th digit), or `None` if [`is_id_number`] rejects `s`.
pub fn id_number_is_male(s: &str) -> Option<bool> {
    parse_id_number(s, today_in_china()).map(|facts| facts.male)
}

/// Whether `s` is a mainland China mobile number: 11 ASCII digits, starting
/// with `1` and then a digit from `3` to `9`.
///
/// A country code (`+86`), spaces and hyphens are not accepted. Strip them
/// before checking.
pub fn is_mobile(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
}

/// Whether `s` is a unified social credit code (GB 32100-2015).
///
/// The code must have exactly 18 characters from
/// `0123456789ABCDEFGHJKLMNPQRTUWXY`. Lowercase letters are rejected. The code
/// must also satisfy all of these:
/// - character 1 (registration authority) is one of `1`–`9`, `A`, `N` or `Y`;
/// - characters 3–8 (administrative division code) are digits;
/// - character 18 equals `(31 - Σ value × weight mod 31) mod 31` over the
///   first 17 characters, mapped back to the character set.
///
/// Character 2 (organisation category) only has to be in the character set.
/// Its allowed values depend on the authority.
pub fn is_uscc(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != 18
        || !USCC_AUTHORITIES.contains(&bytes[0])
        || !bytes[2..8].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut sum = 0;
    for (&b, &weight) in bytes[..17].iter().zip(&USCC_WEIGHTS) {
        match uscc_value(b) {
            Some(value) => sum += value * weight,
            None => return false,
        }
    }
    bytes[17] == USCC_CHARSET[(31 - sum % 31) % 31]
}

/// Whether `s` is a bank card number: 12 to 19 ASCII digits with a valid Luhn
/// check digit.
///
/// Spaces are not accepted. Strip them before checking.
pub fn is_bank_card(s: &str) -> bool {
    let bytes = s.as_bytes();
    if !(12..=19).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let digit = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `s` is a mainland China postal code: exactly 6 ASCII digits.
pub fn is_postal_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

/// What a valid ID number tells us about its holder.
struct IdFacts {
    birth_date: NaiveDate,
    male: bool,
}

/// Checks an ID number against a given "today", so tests can control the
/// future-birth-date check. Returns `None` if the number is invalid.
fn parse_id_number(s: &str, today: NaiveDate) -> Option<IdFacts> {
    let bytes = s.as_bytes();
    if bytes.len() != 18 {
        return None;
    }
    let mut digits = [0u32; 17];
    for (slot, &b) in digits.iter_mut().zip(&bytes[..17]) {
        if !b.is_ascii_digit() {
            return None;
        }
        *slot = u32::from(b - b'0');
    }

    if bytes[17] != check_char(&digits) {
        return None;
    }

    if !is_province_code(digits[0] * 10 + digits[1]) {
        return None;
    }

    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |acc, &digit| acc * 10 + digit)
    };
    let year = i32::try_from(number(6..10)).ok()?;
    let birth_date = NaiveDate::from_ymd_opt(year, number(10..12), number(12..14))?;
    if year < ID_MIN_BIRTH_YEAR || birth_date > today {
        return None;
    }

    Some(IdFacts {
        birth_date,
        male: digits[16] % 2 == 1,
    })
}

/// Whether `code` is a province-level code an ID number may start with.
fn is_province_code(code: u32) -> bool {
    matches!(
        code,
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82 | 83
    )
}

/// Today's calendar date in China Standard Time (UTC+8). ID birth dates are
/// Beijing dates, so this does not depend on the server's time zone.
fn today_in_china() -> NaiveDate {
    (Utc::now().naive_utc() + TimeDelta::hours(8)).date()
}

/// The value of a unified social credit code character, or `None` if the
/// character is not in the character set.
fn uscc_value(b: u8) -> Option<usize> {
    USCC_CHARSET.iter().position(|&c| c == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid-checksum ID number from a 6-digit region, a birth date
    /// and a 3-digit sequence number.
    fn id_number(region: &str, birth: NaiveDate, sequence: &str) -> String {
        let body = format!("{region}{}{sequence}", birth.format("%Y%m%d"));
        let check = id_check_char(&body).expect("test helper given a malformed body");
        format!("{body}{check}")
    }

    /// Adds the check character to any 17-digit body, even one whose date is
    /// not a real date.
    fn complete_id(body: &str) -> String {
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X"]
            .iter()
            .map(|c| format!("{body}{c}"))
            .find(|candidate| {
                let sum: u32 = candidate
                    .bytes()
                    .zip(ID_WEIGHTS)
                    .map(|(b, w)| u32::from(b - b'0') * w)
                    .sum();
                candidate.as_bytes()[17] == ID_CHECK_CHARS[(sum % 11) as usize]
            })
            .expect("one check character fits")
    }

    /// Appends the correct check character to a 17-character USCC body.
    fn uscc(body: &str) -> String {
        assert_eq!(body.len(), 17, "test helper given a malformed body");
        let sum: usize = body
            .bytes()
            .zip(USCC_WEIGHTS)
            .map(|(b, w)| uscc_value(b).expect("test body uses the charset") * w)
            .sum();
        let check = char::from(USCC_CHARSET[(31 - sum % 31) % 31]);
        format!("{body}{check}")
    }

    /// Appends the correct Luhn check digit to a digit string, computed
    /// independently of `is_bank_card` and for any length.
    fn luhn(body: &str) -> String {
        let sum: u32 = body
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let digit = u32::from(b - b'0');
                // The check digit will sit at position 0, so the body's
                // rightmost digit (i = 0) is doubled.
                if i % 2 == 0 {
                    (digit * 2) / 10 + (digit * 2) % 10
                } else {
                    digit
                }
            })
            .sum();
        format!("{body}{}", (10 - sum % 10) % 10)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date is real")
    }

    /// Replaces the character at byte `index` (ASCII only).
    fn with_char(s: &str, index: usize, c: char) -> String {
        let mut out = s.to_owned();
        out.replace_range(index..=index, &c.to_string());
        out
    }

    #[test]
    fn textbook_id_number_is_valid() {
        assert!(is_id_number("11010519491231002X"));
    }

    #[test]
    fn id_number_with_lowercase_x_is_rejected() {
        assert!(!is_id_number("11010519491231002x"));
    }

    #[test]
    fn id_number_with_wrong_check_digit_is_rejected() {
        for c in "0123456789".chars() {
            assert!(!is_id_number(&with_char("11010519491231002X", 17, c)));
        }
    }

    #[test]
    fn id_number_with_any_single_digit_changed_is_rejected() {
        let valid = id_number("440305", date(1985, 7, 4), "123");
        assert!(is_id_number(&valid));
        for index in 0..17 {
            for c in "0123456789".chars() {
                let altered = with_char(&valid, index, c);
                if altered != valid {
                    assert!(!is_id_number(&altered), "{altered} accepted");
                }
            }
        }
    }

    #[test]
    fn id_number_of_wrong_length_is_rejected() {
        assert!(!is_id_number("11010519491231002"));
        assert!(!is_id_number("11010519491231002X0"));
        // A 15-digit first-generation number is not accepted.
        assert!(!is_id_number("110105491231002"));
    }

    #[test]
    fn id_number_with_letter_in_body_is_rejected() {
        assert!(!is_id_number("1101051949123100XX"));
    }

    #[test]
    fn id_number_born_on_feb_29_of_leap_year_is_valid() {
        assert!(is_id_number(&id_number("110105", date(2000, 2, 29), "001")));
        assert!(is_id_number(&id_number("320102", date(2004, 2, 29), "452")));
    }

    #[test]
    fn id_number_born_on_feb_29_of_non_leap_year_is_rejected() {
        assert!(!is_id_number(&complete_id("11010520030229001")));
        // 1900 is not a leap year (century rule).
        assert!(!is_id_number(&complete_id("11010519000229001")));
    }

    #[test]
    fn id_number_with_month_13_is_rejected() {
        assert!(!is_id_number(&complete_id("11010519901301002")));
    }

    #[test]
    fn id_number_with_day_zero_or_32_is_rejected() {
        assert!(!is_id_number(&complete_id("11010519900100002")));
        assert!(!is_id_number(&complete_id("11010519900132002")));
    }

    #[test]
    fn id_number_born_before_1900_is_rejected() {
        assert!(!is_id_number(&id_number(
            "110105",
            date(1899, 12, 31),
            "001"
        )));
        assert!(is_id_number(&id_number("110105", date(1900, 1, 1), "001")));
    }

    #[test]
    fn id_number_born_in_the_future_is_rejected() {
        let today = date(2024, 6, 15);
        let born_today = id_number("110105", today, "001");
        let born_tomorrow = id_number("110105", date(2024, 6, 16), "001");
        assert!(parse_id_number(&born_today, today).is_some());
        assert!(parse_id_number(&born_tomorrow, today).is_none());

        let tomorrow = today_in_china() + TimeDelta::days(1);
        assert!(!is_id_number(&id_number("110105", tomorrow, "001")));
    }

    #[test]
    fn id_number_with_bad_province_is_rejected() {
        for region in ["000000", "100000", "160000", "200000", "380000", "990000"] {
            let number = id_number(region, date(1990, 1, 1), "001");
            assert!(!is_id_number(&number), "{number}");
        }
    }

    #[test]
    fn id_number_with_each_listed_province_is_valid() {
        for code in [
            11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50,
            51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83,
        ] {
            let number = id_number(&format!("{code}0000"), date(1990, 1, 1), "001");
            assert!(is_id_number(&number), "{number}");
        }
    }

    #[test]
    fn id_number_birth_date_is_read_from_digits_7_to_14() {
        assert_eq!(
            id_number_birth_date("11010519491231002X"),
            Some(date(1949, 12, 31))
        );
    }

    #[test]
    fn id_number_sex_follows_parity_of_17th_digit() {
        // 17th digit 2: female.
        assert_eq!(id_number_is_male("11010519491231002X"), Some(false));
        let male = id_number("110105", date(1949, 12, 31), "003");
        assert_eq!(id_number_is_male(&male), Some(true));
    }

    #[test]
    fn id_number_facts_are_none_for_invalid_number() {
        assert_eq!(id_number_birth_date("110105194912310021"), None);
        assert_eq!(id_number_is_male("110105194912310021"), None);
        assert_eq!(id_number_birth_date(""), None);
    }

    #[test]
    fn mobile_with_prefix_13_to_19_is_valid() {
        for prefix in ["13", "14", "15", "16", "17", "18", "19"] {
            assert!(is_mobile(&format!("{prefix}812345678")), "{prefix}");
        }
    }

    #[test]
    fn mobile_with_prefix_10_to_12_is_rejected() {
        for prefix in ["10", "11", "12", "23", "03"] {
            assert!(!is_mobile(&format!("{prefix}812345678")), "{prefix}");
        }
    }

    #[test]
    fn mobile_of_wrong_length_or_with_separators_is_rejected() {
        assert!(!is_mobile("1381234567"));
        assert!(!is_mobile("138123456789"));
        assert!(!is_mobile("138-1234-567"));
        assert!(!is_mobile("+8613812345678"));
        assert!(!is_mobile("1381234567a"));
    }

    #[test]
    fn commonly_cited_uscc_is_valid() {
        assert!(is_uscc("91350100M000100Y43"));
    }

    #[test]
    fn uscc_with_wrong_check_character_is_rejected() {
        for c in USCC_CHARSET.iter().map(|&b| char::from(b)) {
            if c != '3' {
                assert!(!is_uscc(&with_char("91350100M000100Y43", 17, c)), "{c}");
            }
        }
    }

    #[test]
    fn uscc_with_any_single_character_changed_is_rejected() {
        let valid = "91350100M000100Y43";
        for index in 0..17 {
            for c in USCC_CHARSET.iter().map(|&b| char::from(b)) {
                let altered = with_char(valid, index, c);
                if altered != valid {
                    assert!(!is_uscc(&altered), "{altered} accepted");
                }
            }
        }
    }

    #[test]
    fn uscc_from_each_allowed_authority_is_valid() {
        for authority in USCC_AUTHORITIES.iter().map(|&b| char::from(b)) {
            let code = uscc(&format!("{authority}1110000MA01ABCD2"));
            assert!(is_uscc(&code), "{code}");
        }
    }

    #[test]
    fn uscc_from_unknown_authority_is_rejected() {
        for authority in ["0", "B", "C", "M", "X"] {
            let code = uscc(&format!("{authority}1110000MA01ABCD2"));
            assert!(!is_uscc(&code), "{code}");
        }
    }

    #[test]
    fn uscc_with_letter_in_division_code_is_rejected() {
        let code = uscc("9111A000MA01ABCD2");
        assert!(!is_uscc(&code), "{code}");
    }

    #[test]
    fn uscc_with_excluded_or_lowercase_letters_is_rejected() {
        for c in ['I', 'O', 'S', 'V', 'Z', 'm'] {
            assert!(!is_uscc(&with_char("91350100M000100Y43", 8, c)), "{c}");
        }
        assert!(!is_uscc("91350100m000100y43"));
    }

    #[test]
    fn uscc_of_wrong_length_is_rejected() {
        assert!(!is_uscc("91350100M000100Y4"));
        assert!(!is_uscc("91350100M000100Y430"));
    }

    #[test]
    fn bank_card_with_valid_luhn_is_valid() {
        assert!(is_bank_card("4111111111111111"));
        assert!(is_bank_card("6222021234567890128"));
        assert!(is_bank_card(&luhn("62220212345")));
    }

    #[test]
    fn bank_card_with_altered_digit_is_rejected() {
        assert!(!is_bank_card("4111111111111112"));
        assert!(!is_bank_card("4111111111111121"));
        assert!(!is_bank_card("6222021234567890127"));
    }

    #[test]
    fn bank_card_outside_12_to_19_digits_is_rejected() {
        assert!(!is_bank_card(&luhn("6222021234")));
        assert!(is_bank_card(&luhn("62220212345")));
        assert!(is_bank_card(&luhn("622202123456789012")));
        assert!(!is_bank_card(&luhn("6222021234567890123")));
    }

    #[test]
    fn bank_card_with_spaces_is_rejected() {
        assert!(!is_bank_card("4111 1111 1111 1111"));
    }

    #[test]
    fn postal_code_is_exactly_six_digits() {
        assert!(is_postal_code("100000"));
        assert!(is_postal_code("518057"));
        assert!(!is_postal_code("10000"));
        assert!(!is_postal_code("1000000"));
        assert!(!is_postal_code("10000a"));
        assert!(!is_postal_code("１０００００"));
    }

    #[test]
    fn formats_lists_every_check_by_schema_name() {
        let names: Vec<&str> = FORMATS.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            ["id_number", "mobile", "uscc", "bank_card", "postal_code"]
        );
        let samples = [
            "11010519491231002X",
            "13812345678",
            "91350100M000100Y43",
            "4111111111111111",
            "100000",
        ];
        for ((name, check), sample) in FORMATS.iter().zip(samples) {
            assert!(check(sample), "{name} rejected {sample}");
        }
    }

    #[test]
    fn no_check_panics_on_odd_input() {
        let long = "1".repeat(10_000);
        let odd = [
            "",
            " ",
            "\0",
            "１１０",
            "１１０１０５１９４９１２３１００２Ｘ",
            "１３８１２３４５６７８",
            "身份证号码",
            "11010519491231002中",
            "中1010519491231002X",
            "1101051949123100é",
            "91350100M000100Y4é",
            "🙂🙂🙂🙂",
            "🙂11010519491231002",
            "-4111111111111111",
            "99999999999999999X",
            "00000000000000000000",
            &long,
        ];
        for input in odd {
            for (name, check) in FORMATS {
                assert!(!check(input), "{name} accepted {input:?}");
            }
            assert_eq!(id_number_birth_date(input), None);
            assert_eq!(id_number_is_male(input), None);
        }
    }
}
