//! SQL text for a named dialect, with bound parameters: what lists and scopes compile to.
//!
//! The runtime never talks to a database; it only writes query fragments. Every value goes in
//! as a bound parameter (`$n` works on both SQLite and PostgreSQL); only keys that passed
//! [`crate::key::is_key`] are ever written into the text.

/// The two databases Formwork runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Embedded SQLite: record data is JSON text.
    Sqlite,
    /// PostgreSQL: record data is `jsonb`.
    Postgres,
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// Text.
    Text(String),
    /// Whole number.
    Int(i64),
    /// Floating-point number.
    Float(f64),
}

/// SQL text being built, with its parameters in order.
#[derive(Debug, Clone)]
pub struct Sql {
    /// The dialect the text is written for.
    pub dialect: Dialect,
    /// The text so far.
    pub text: String,
    /// Parameters, `$1` first.
    pub params: Vec<SqlValue>,
}

impl Sql {
    /// Starts an empty statement.
    pub fn new(dialect: Dialect) -> Self {
        Sql {
            dialect,
            text: String::new(),
            params: Vec::new(),
        }
    }

    /// Appends raw text (never user input).
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder bound to `v`.
    pub fn bind(&mut self, v: SqlValue) -> &mut Self {
        self.params.push(v);
        self.text.push_str(&format!("${}", self.params.len()));
        self
    }

    /// Appends a placeholder for a text value.
    pub fn bind_text(&mut self, v: impl Into<String>) -> &mut Self {
        self.bind(SqlValue::Text(v.into()))
    }

    /// Appends a placeholder for a number compared with JSON numbers.
    pub fn bind_number(&mut self, v: f64) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.bind(SqlValue::Float(v)),
            Dialect::Postgres => {
                self.push("cast(");
                self.bind(SqlValue::Text(v.to_string()));
                self.push(" as numeric)")
            }
        }
    }

    /// Appends a placeholder for a boolean compared with `data->>'field'`, which reads a JSON
    /// boolean as 1/0 on SQLite and as the text `true`/`false` on PostgreSQL.
    pub fn bind_bool(&mut self, v: bool) -> &mut Self {
        match self.dialect {
            Dialect::Sqlite => self.bind(SqlValue::Int(i64::from(v))),
            Dialect::Postgres => self.bind(SqlValue::Text(v.to_string())),
        }
    }

    /// Appends the expression reading a top-level JSON field of `records.data` as text.
    /// `key` must be a checked key.
    pub fn json_text(&mut self, key: &str) -> &mut Self {
        debug_assert!(crate::key::is_key(key));
        self.push(&json_text_expr(key))
    }

    /// Appends the expression reading a top-level JSON field as a number.
    pub fn json_number(&mut self, key: &str) -> &mut Self {
        debug_assert!(crate::key::is_key(key));
        let e = json_number_expr(self.dialect, key);
        self.push(&e)
    }
}

/// `data->>'key'`: the same text in both dialects, so expression indexes match queries.
pub fn json_text_expr(key: &str) -> String {
    format!("(data->>'{key}')")
}

/// A JSON field read as a number in `dialect`.
pub fn json_number_expr(dialect: Dialect, key: &str) -> String {
    match dialect {
        // SQLite's ->> already yields an SQL number for a JSON number.
        Dialect::Sqlite => format!("(data->>'{key}')"),
        Dialect::Postgres => format!("((data->>'{key}')::numeric)"),
    }
}

/// A top-level JSON scalar as the text serde_json writes it (`abc`, `3`, `true`), NULL when
/// missing or null: what a list groups by, the same values in both dialects. `key` must be a
/// checked key.
pub fn json_scalar_text_expr(dialect: Dialect, key: &str) -> String {
    match dialect {
        Dialect::Postgres => json_text_expr(key),
        // SQLite's ->> yields 1/0 for booleans and SQL numbers for numbers.
        Dialect::Sqlite => format!(
            "(case json_type(data, '$.{key}') when 'true' then 'true' when 'false' then 'false' \
             else cast(data->>'{key}' as text) end)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut q = Sql::new(Dialect::Postgres);
        q.push("a = ")
            .bind_text("x")
            .push(" and ")
            .json_number("loss_amount")
            .push(" > ")
            .bind_number(1.5);
        assert_eq!(
            q.text,
            "a = $1 and ((data->>'loss_amount')::numeric) > cast($2 as numeric)"
        );
        assert_eq!(
            q.params,
            [SqlValue::Text("x".into()), SqlValue::Text("1.5".into())]
        );
    }
}
