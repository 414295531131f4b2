//! Batch rules (批量规则): a pack-defined operation that picks records by state and an
//! expression, ranks them within partitions, and fires a transition for the top of each
//! partition (e.g. written-exam score within position, split by sex, top vacancies × 3 go to
//! interview) — and another for the rest, if the rule says so.
//!
//! [`BatchRule::select`] is pure: the server feeds it the records the actor may see and
//! shows the result as a preview before it runs the same selection.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PackError;
use crate::expr::Expr;
use crate::workflow::Workflow;

/// `batches/<key>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRuleDef {
    /// Name shown to users (`按招录比例确定面试人选`).
    pub label: String,
    /// The form whose records it ranks.
    pub form: String,
    /// States the records must be in.
    pub states: Vec<String>,
    /// Expression a record must satisfy to take part (e.g. `written_score >= 60`).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Fields whose values split the records into partitions ranked apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition: Vec<String>,
    /// Sort keys, most significant first.
    pub rank: Vec<RankKey>,
    /// How many of each partition are taken: an expression over the partition's first
    /// record (`vacancies * 3`) or a number.
    pub take: String,
    /// Records tied with the last one taken: `include` (all of them are taken, default) or
    /// `exclude` (none of them is).
    #[serde(default)]
    pub ties: Ties,
    /// Transition fired for the records taken.
    pub action: String,
    /// Transition fired for the others, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others: Option<String>,
}

/// One sort key of a ranking.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankKey {
    /// Expression over the record (`written_score`, `written_score * 0.6 + interview_score * 0.4`).
    pub by: String,
    /// `desc` (highest first, default) or `asc`.
    #[serde(default)]
    pub order: Order,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Highest first.
    #[default]
    Desc,
    /// Lowest first.
    Asc,
}

/// What happens to ties at the boundary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// Everyone tied with the last one taken is taken too.
    #[default]
    Include,
    /// Nobody tied across the boundary is taken.
    Exclude,
}

/// A checked rule.
#[derive(Debug)]
pub struct BatchRule {
    /// Its key.
    pub key: String,
    /// Its definition.
    pub def: BatchRuleDef,
    condition: Option<Expr>,
    rank: Vec<(Expr, Order)>,
    take: Expr,
}

/// One record as ranked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranked {
    /// Record id.
    pub id: String,
    /// Values of the partition fields.
    pub partition: Vec<Value>,
    /// Competition rank within the partition (1, 2, 2, 4 …).
    pub rank: usize,
    /// Values of the sort keys.
    pub keys: Vec<Value>,
    /// Whether it is taken.
    pub selected: bool,
}

/// One partition's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partition {
    /// Values of the partition fields.
    pub values: Vec<Value>,
    /// Records in it.
    pub count: usize,
    /// How many the rule takes.
    pub take: usize,
    /// How many it took (ties may make it more or fewer).
    pub selected: usize,
}

/// What a rule selects from a set of records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// Partitions in order of their values.
    pub partitions: Vec<Partition>,
    /// Every taking-part record, by partition then rank.
    pub items: Vec<Ranked>,
}

impl BatchRule {
    /// Checks a rule against its form's fields and workflow; problems point into `file`.
    pub fn check(
        key: &str,
        def: BatchRuleDef,
        fields: &BTreeSet<String>,
        workflow: &Workflow,
        file: &str,
    ) -> Result<BatchRule, Vec<PackError>> {
        let mut errs = Vec::new();
        let mut expr = |ptr: String, src: &str| match Expr::compile(src) {
            Ok(x) => Some(x),
            Err(e) => {
                errs.push(PackError::new(
                    file,
                    ptr,
                    format!("invalid expression: {e}"),
                ));
                None
            }
        };
        let condition = def
            .condition
            .as_deref()
            .and_then(|c| expr("/where".into(), c));
        let rank: Vec<(Expr, Order)> = def
            .rank
            .iter()
            .enumerate()
            .filter_map(|(i, k)| expr(format!("/rank/{i}/by"), &k.by).map(|x| (x, k.order)))
            .collect();
        let take = expr("/take".into(), &def.take);
        if def.rank.is_empty() {
            errs.push(PackError::new(
                file,
                "/rank",
                "a batch rule needs at least one sort key",
            ));
        }
        if def.states.is_empty() {
            errs.push(PackError::new(
                file,
                "/states",
                "a batch rule needs at least one state",
            ));
        }
        for (i, f) in def.partition.iter().enumerate() {
            if !fields.contains(f) {
                errs.push(PackError::new(
                    file,
                    format!("/partition/{i}"),
                    format!("unknown field `{f}`"),
                ));
            }
        }
        for (i, s) in def.states.iter().enumerate() {
            if workflow.state(s).is_none() {
                errs.push(PackError::new(
                    file,
                    format!("/states/{i}"),
                    format!("workflow `{}` has no state `{s}`", workflow.key),
                ));
                continue;
            }
            for (kw, action) in [
                ("action", Some(&def.action)),
                ("others", def.others.as_ref()),
            ] {
                if let Some(a) = action {
                    if workflow.transition(s, a).is_none() {
                        errs.push(PackError::new(
                            file,
                            format!("/{kw}"),
                            format!("no transition `{a}` leaves state `{s}`"),
                        ));
                    }
                }
            }
        }
        match (errs.is_empty(), take) {
            (true, Some(take)) => Ok(BatchRule {
                key: key.to_string(),
                def,
                condition,
                rank,
                take,
            }),
            _ => Err(errs),
        }
    }

    /// Ranks `records` (id, state, data) and marks the ones taken. Records in other states
    /// or failing `where` take no part. An expression that fails on a record is an error
    /// naming it.
    pub fn select(&self, records: &[(String, String, Value)]) -> Result<Selection, String> {
        let mut groups: BTreeMap<String, (Vec<Value>, Vec<Member>)> = BTreeMap::new();
        for (id, state, data) in records {
            if !self.def.states.contains(state) {
                continue;
            }
            if let Some(c) = &self.condition {
                if !c
                    .test(data)
                    .map_err(|e| format!("record {id}: where: {e}"))?
                {
                    continue;
                }
            }
            let part: Vec<Value> = self
                .def
                .partition
                .iter()
                .map(|f| data.get(f).cloned().unwrap_or(Value::Null))
                .collect();
            let keys = self
                .rank
                .iter()
                .enumerate()
                .map(|(i, (x, _))| {
                    x.eval(data)
                        .map_err(|e| format!("record {id}: rank/{i}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let slot = groups
                .entry(serde_json::to_string(&part).unwrap_or_default())
                .or_insert_with(|| (part.clone(), Vec::new()));
            slot.1.push((id.clone(), keys, data));
        }
        let mut out = Selection {
            partitions: Vec::new(),
            items: Vec::new(),
        };
        for (_, (values, mut members)) in groups {
            let orders: Vec<Order> = self.rank.iter().map(|(_, o)| *o).collect();
            members.sort_by(|a, b| compare(&a.1, &b.1, &orders).then_with(|| a.0.cmp(&b.0)));
            let first = members.first().map(|m| m.2).unwrap_or(&Value::Null);
            let take = self
                .take
                .eval(first)
                .map_err(|e| format!("take: {e}"))
                .and_then(|v| count(&v).ok_or_else(|| format!("take gave {v}, not a number")))?;
            // Competition ranks: equal keys share a rank.
            let mut ranks = Vec::with_capacity(members.len());
            for i in 0..members.len() {
                let r = if i > 0 && compare(&members[i - 1].1, &members[i].1, &orders).is_eq() {
                    ranks[i - 1]
                } else {
                    i + 1
                };
                ranks.push(r);
            }
            let mut selected = 0;
            for (i, (id, keys, _)) in members.iter().enumerate() {
                let r = ranks[i];
                let tied = ranks.iter().filter(|x| **x == r).count();
                let taken = match self.def.ties {
                    Ties::Include => r <= take,
                    Ties::Exclude => r + tied - 1 <= take,
                };
                selected += usize::from(taken);
                out.items.push(Ranked {
                    id: id.clone(),
                    partition: values.clone(),
                    rank: r,
                    keys: keys.clone(),
                    selected: taken,
                });
            }
            out.partitions.push(Partition {
                values,
                count: members.len(),
                take,
                selected,
            });
        }
        Ok(out)
    }
}

/// A record in a partition: id, sort keys, data.
type Member<'a> = (String, Vec<Value>, &'a Value);

/// A non-negative whole count from a number or numeric text (rounded down).
fn count(v: &Value) -> Option<usize> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (n.is_finite()).then(|| n.max(0.0).floor() as usize)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// Compares sort keys: numbers (also numeric text) by value, other text as text; missing
/// values always last.
fn compare(a: &[Value], b: &[Value], orders: &[Order]) -> Ordering {
    for ((x, y), o) in a.iter().zip(b).zip(orders) {
        let c = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            _ => {
                let c = match (number(x), number(y)) {
                    (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
                    _ => x.to_string().cmp(&y.to_string()),
                };
                match o {
                    Order::Asc => c,
                    Order::Desc => c.reverse(),
                }
            }
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::WorkflowDef;
    use serde_json::json;

    fn workflow() -> Workflow {
        let def: WorkflowDef = serde_json::from_value(json!({
            "label": "w", "initial": "scored",
            "states": [{"key": "scored", "label": "s"}, {"key": "in", "label": "i"}, {"key": "out", "label": "o"}],
            "transitions": [
                {"action": "shortlist", "label": "入围", "from": "scored", "to": "in", "roles": ["r"]},
                {"action": "eliminate", "label": "未入围", "from": "scored", "to": "out", "roles": ["r"]}
            ]
        }))
        .unwrap();
        Workflow {
            key: "w".into(),
            def,
        }
    }

    fn rule(extra: Value) -> BatchRule {
        let mut def = json!({
            "label": "l", "form": "f", "states": ["scored"], "partition": ["position", "sex"],
            "rank": [{"by": "score"}], "take": "vacancies * 2", "action": "shortlist", "others": "eliminate"
        });
        for (k, v) in extra.as_object().unwrap() {
            def[k] = v.clone();
        }
        let fields = ["position", "sex", "score", "vacancies"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        BatchRule::check(
            "r",
            serde_json::from_value(def).unwrap(),
            &fields,
            &workflow(),
            "batches/r.json",
        )
        .unwrap()
    }

    fn rec(id: &str, position: &str, sex: &str, score: Value) -> (String, String, Value) {
        (
            id.into(),
            "scored".into(),
            json!({"position": position, "sex": sex, "score": score, "vacancies": 1}),
        )
    }

    fn taken(s: &Selection) -> Vec<&str> {
        s.items
            .iter()
            .filter(|i| i.selected)
            .map(|i| i.id.as_str())
            .collect()
    }

    #[test]
    fn ranks_within_partitions_and_takes_the_top() {
        let r = rule(json!({}));
        let recs = vec![
            rec("a", "P1", "男", json!(90)),
            rec("b", "P1", "男", json!("85.5")),
            rec("c", "P1", "男", json!(70)),
            rec("d", "P1", "女", json!(60)),
            rec("e", "P2", "男", json!(99)),
            rec("f", "P2", "男", Value::Null),
            (
                "g".into(),
                "in".into(),
                json!({"position": "P1", "sex": "男", "score": 100, "vacancies": 1}),
            ),
        ];
        let s = r.select(&recs).unwrap();
        // Partitions in order of their values (女 sorts before 男 by code point).
        assert_eq!(taken(&s), ["d", "a", "b", "e", "f"]);
        assert_eq!(s.partitions.len(), 3);
        let p1m = &s.partitions[1];
        assert_eq!(p1m.values, [json!("P1"), json!("男")]);
        assert_eq!((p1m.count, p1m.take, p1m.selected), (3, 2, 2));
        // A missing score ranks last.
        assert_eq!(s.items.iter().find(|i| i.id == "f").unwrap().rank, 2);
    }

    #[test]
    fn ties_at_the_boundary_are_all_in_or_all_out() {
        let recs = vec![
            rec("a", "P", "男", json!(90)),
            rec("b", "P", "男", json!(80)),
            rec("c", "P", "男", json!(80)),
            rec("d", "P", "男", json!(70)),
        ];
        let s = rule(json!({})).select(&recs).unwrap();
        assert_eq!(taken(&s), ["a", "b", "c"]);
        assert_eq!(
            s.items.iter().map(|i| i.rank).collect::<Vec<_>>(),
            [1, 2, 2, 4]
        );
        let s = rule(json!({"ties": "exclude"})).select(&recs).unwrap();
        assert_eq!(taken(&s), ["a"]);
        let s = rule(json!({"where": "score >= 80", "take": "1"}))
            .select(&recs)
            .unwrap();
        assert_eq!(s.items.len(), 3);
        assert_eq!(taken(&s), ["a"]);
    }

    #[test]
    fn check_points_at_unknown_fields_states_and_transitions() {
        let def: BatchRuleDef = serde_json::from_value(json!({
            "label": "l", "form": "f", "states": ["scored", "nowhere"], "partition": ["nope"],
            "rank": [{"by": "score +"}], "take": "2", "action": "fly"
        }))
        .unwrap();
        let fields = ["score"].iter().map(|s| s.to_string()).collect();
        let errs = BatchRule::check("r", def, &fields, &workflow(), "batches/r.json").unwrap_err();
        let ptrs: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/rank/0/by", "/partition/0", "/action", "/states/1"]);
    }
}
