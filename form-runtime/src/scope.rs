//! Data scope: which records of a tenant a role may see, as an SQL predicate.
//!
//! The scope is applied in the query, never by filtering rows after loading them, so a list's
//! total count and a single read agree on what exists for the user.

use serde::{Deserialize, Serialize};

use crate::sql::Sql;

/// How far a role sees, from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Records the user created.
    Own,
    /// Records of the user's own org unit.
    Org,
    /// Records of the user's org unit and every unit below it.
    OrgTree,
    /// Every record of the tenant.
    Tenant,
}

impl Scope {
    /// Parses `own`, `org`, `org_tree` or `tenant`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "own" => Some(Scope::Own),
            "org" => Some(Scope::Org),
            "org_tree" => Some(Scope::OrgTree),
            "tenant" => Some(Scope::Tenant),
            _ => None,
        }
    }

    /// The key as written in `roles.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Org => "org",
            Scope::OrgTree => "org_tree",
            Scope::Tenant => "tenant",
        }
    }

    /// Whether a user (`user_id`, unit path `user_path`) with this scope sees a record
    /// created by `owner_id` in the unit with path `record_path`: the same test as
    /// [`Scope::predicate`], for a record already in hand.
    pub fn covers(self, user_id: &str, user_path: &str, owner_id: &str, record_path: &str) -> bool {
        match self {
            Scope::Own => owner_id == user_id,
            Scope::Org => record_path == user_path,
            Scope::OrgTree => record_path.starts_with(user_path) && user_path.ends_with('/'),
            Scope::Tenant => true,
        }
    }

    /// Appends the predicate limiting `records` to this scope for a user with id `user_id`
    /// whose org unit has the materialised path `org_path` (`/shrc/pudong/`).
    pub fn predicate(self, sql: &mut Sql, user_id: &str, org_path: &str) {
        match self {
            Scope::Own => {
                sql.push("owner_id = ").bind_text(user_id);
            }
            Scope::Org => {
                sql.push("org_path = ").bind_text(org_path);
            }
            Scope::OrgTree => {
                // A prefix test written as a range, so it can use an index in both dialects
                // and needs no LIKE escaping: every path that starts with `/a/b/` sorts in
                // [`/a/b/`, `/a/b0`), because '0' follows '/'.
                let upper = format!("{}0", org_path.strip_suffix('/').unwrap_or(org_path));
                sql.push("(org_path >= ")
                    .bind_text(org_path)
                    .push(" and org_path < ")
                    .bind_text(upper)
                    .push(")");
            }
            Scope::Tenant => {
                sql.push("1 = 1");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{Dialect, SqlValue};

    #[test]
    fn org_tree_is_a_prefix_range() {
        let mut q = Sql::new(Dialect::Sqlite);
        Scope::OrgTree.predicate(&mut q, "u1", "/shrc/pudong/");
        assert_eq!(q.text, "(org_path >= $1 and org_path < $2)");
        assert_eq!(q.params[1], SqlValue::Text("/shrc/pudong0".into()));
        // Every descendant sorts inside the range, a sibling with a longer name outside it.
        for p in ["/shrc/pudong/", "/shrc/pudong/street-1/"] {
            assert!(("/shrc/pudong/".."/shrc/pudong0").contains(&p));
        }
        for p in ["/shrc/pudong-new/", "/shrc/pudongx/", "/shrc/"] {
            assert!(!("/shrc/pudong/".."/shrc/pudong0").contains(&p));
        }
    }

    #[test]
    fn covers_agrees_with_the_predicate() {
        let (me, unit) = ("u1", "/shrc/pudong/");
        assert!(Scope::Own.covers(me, unit, "u1", "/shrc/huangpu/"));
        assert!(!Scope::Own.covers(me, unit, "u2", unit));
        assert!(Scope::Org.covers(me, unit, "u2", unit));
        assert!(!Scope::Org.covers(me, unit, "u2", "/shrc/pudong/street-1/"));
        assert!(Scope::OrgTree.covers(me, unit, "u2", "/shrc/pudong/street-1/"));
        assert!(!Scope::OrgTree.covers(me, unit, "u2", "/shrc/pudong-new/"));
        assert!(!Scope::OrgTree.covers(me, unit, "u2", "/shrc/"));
        assert!(Scope::Tenant.covers(me, unit, "u2", "/other/"));
    }

    #[test]
    fn scopes_order_from_narrow_to_wide() {
        assert!(
            Scope::Own < Scope::Org
                && Scope::Org < Scope::OrgTree
                && Scope::OrgTree < Scope::Tenant
        );
        assert_eq!(Scope::parse("org_tree"), Some(Scope::OrgTree));
        assert_eq!(Scope::parse("all"), None);
    }
}
