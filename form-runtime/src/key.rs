//! Keys: the snake_case names a pack gives to forms, fields, states, actions, lists and roles.
//!
//! A key is safe to embed in SQL text (`data->>'loss_amount'`) because it can only hold
//! `[a-z0-9_]` and starts with a letter; that is why every key passes through [`is_key`].

/// True when `s` is a valid key: 1–63 characters of `[a-z0-9_]`, starting with a letter.
pub fn is_key(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// True when `s` is a valid pack id or org-unit code: like a key, but `-` is allowed too.
pub fn is_code(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '0'..='9'))
        && s.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lower_snake_case_starting_with_a_letter() {
        assert!(is_key("fire_relief"));
        assert!(is_key("a1"));
        assert!(!is_key("1a"));
        assert!(!is_key("Fire"));
        assert!(!is_key("x'; drop table records; --"));
        assert!(!is_key(""));
        assert!(!is_key(&"a".repeat(64)));
    }

    #[test]
    fn codes_allow_dashes() {
        assert!(is_code("red-cross"));
        assert!(is_code("pudong"));
        assert!(!is_code("-x"));
        assert!(!is_code("上海"));
    }
}
