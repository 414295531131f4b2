//! Relations between an actor's org unit and a record's: who, by position in the org tree,
//! may fire a transition ("the district reviewer of *this* record's district").
//!
//! Paths are materialised (`/shrc/pudong/huamu/`). A rule is checked in Rust for a single
//! record and compiled to SQL for the inbox, and the two must agree; the tests check both.

use serde::{Deserialize, Serialize};

use crate::sql::Sql;

/// How the actor's unit must relate to the record's unit (`org` on a transition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrgRule {
    /// `"same"`, `"parent"` or `"subtree"`.
    Named(OrgRelation),
    /// `{"level": 2}`: the actor's unit is the record's ancestor at this depth (1 = root).
    Level {
        /// Depth of the actor's unit in the tree, 1 for the root.
        level: usize,
    },
    /// `{"unit": "shrc"}`: only actors of this unit (by code).
    Unit {
        /// Unit code.
        unit: String,
    },
}

/// Named relations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRelation {
    /// The record was filed in the actor's own unit.
    Same,
    /// The actor's unit is the direct parent of the record's unit.
    Parent,
    /// The record's unit is the actor's unit or below it.
    Subtree,
}

/// Depth of a path: `/a/` is 1, `/a/b/` is 2.
pub fn depth(path: &str) -> usize {
    path.split('/').filter(|s| !s.is_empty()).count()
}

/// The unit code at the end of a path.
pub fn unit_of(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

fn under(record: &str, actor: &str) -> bool {
    record.starts_with(actor)
}

impl OrgRule {
    /// Whether an actor of unit path `actor` may act on a record filed at `record`.
    pub fn allows(&self, actor: &str, record: &str) -> bool {
        match self {
            OrgRule::Named(OrgRelation::Same) => actor == record,
            OrgRule::Named(OrgRelation::Subtree) => under(record, actor),
            OrgRule::Named(OrgRelation::Parent) => {
                under(record, actor) && depth(record) == depth(actor) + 1
            }
            OrgRule::Level { level } => depth(actor) == *level && under(record, actor),
            OrgRule::Unit { unit } => unit_of(actor) == unit,
        }
    }

    /// Appends the SQL predicate on `org_path` selecting the records this actor may act on,
    /// or `1 = 0` when the actor can never match.
    pub fn predicate(&self, sql: &mut Sql, actor: &str) {
        let prefix = |sql: &mut Sql| {
            let upper = format!("{}0", actor.strip_suffix('/').unwrap_or(actor));
            sql.push("(org_path >= ")
                .bind_text(actor)
                .push(" and org_path < ")
                .bind_text(upper)
                .push(")");
        };
        match self {
            OrgRule::Named(OrgRelation::Same) => {
                sql.push("org_path = ").bind_text(actor);
            }
            OrgRule::Named(OrgRelation::Subtree) => prefix(sql),
            OrgRule::Named(OrgRelation::Parent) => {
                sql.push("(");
                prefix(sql);
                // Depth in SQL: the number of '/' minus one, the same in both dialects.
                sql.push(" and length(org_path) - length(replace(org_path, '/', '')) = ")
                    .bind(crate::sql::SqlValue::Int(depth(actor) as i64 + 2))
                    .push(")");
            }
            OrgRule::Level { level } if depth(actor) == *level => prefix(sql),
            OrgRule::Unit { unit } if unit_of(actor) == unit => {
                sql.push("1 = 1");
            }
            OrgRule::Level { .. } | OrgRule::Unit { .. } => {
                sql.push("1 = 0");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_between_units() {
        let parent = OrgRule::Named(OrgRelation::Parent);
        assert!(parent.allows("/shrc/pudong/", "/shrc/pudong/huamu/"));
        assert!(!parent.allows("/shrc/", "/shrc/pudong/huamu/"));
        assert!(!parent.allows("/shrc/pudong/", "/shrc/pudong/"));
        let same = OrgRule::Named(OrgRelation::Same);
        assert!(
            same.allows("/shrc/pudong/", "/shrc/pudong/")
                && !same.allows("/shrc/", "/shrc/pudong/")
        );
        let district = OrgRule::Level { level: 2 };
        assert!(district.allows("/shrc/pudong/", "/shrc/pudong/huamu/"));
        assert!(
            !district.allows("/shrc/huangpu/", "/shrc/pudong/huamu/"),
            "another district"
        );
        assert!(
            !district.allows("/shrc/", "/shrc/pudong/"),
            "the city is not at district level"
        );
        let city = OrgRule::Unit {
            unit: "shrc".into(),
        };
        assert!(
            city.allows("/shrc/", "/shrc/pudong/")
                && !city.allows("/shrc/pudong/", "/shrc/pudong/")
        );
    }

    #[test]
    fn rules_parse_from_pack_json() {
        let r: OrgRule = serde_json::from_str("\"parent\"").unwrap();
        assert_eq!(r, OrgRule::Named(OrgRelation::Parent));
        let r: OrgRule = serde_json::from_str("{\"level\": 2}").unwrap();
        assert_eq!(r, OrgRule::Level { level: 2 });
        assert!(serde_json::from_str::<OrgRule>("\"cousin\"").is_err());
    }
}
