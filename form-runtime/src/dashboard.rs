//! Dashboards (数据看板): `dashboards/<key>.json` puts headline figures and charts of the
//! pack's statistics on one page.
//!
//! A tile is a view of one statistic, never a query of its own: a figure is one measure's
//! total, a chart one measure over the statistic's rows (optionally grouped by just one of
//! its dimensions). The server computes every tile through the statistic's own code path,
//! with the viewer's data scope, so a dashboard can show nothing its statistics would not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::PackError;
use crate::form::{escape, Field};
use crate::statistics::{CompiledStatistic, StatisticDef};

/// A dashboard file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardDef {
    /// Title.
    pub label: String,
    /// One sentence under the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The tiles, in the order shown (figures first reads best).
    pub tiles: Vec<TileDef>,
}

/// What a tile shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TileKind {
    /// A headline figure: the measure's total.
    Figure,
    /// Bars, one per row.
    Bar,
    /// A line over the rows (months, years).
    Line,
    /// Shares of the total.
    Pie,
}

/// One tile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileDef {
    /// Figure or chart.
    pub kind: TileKind,
    /// Caption; default: the measure's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Key of the statistic (statistics/<key>.json) of this pack.
    pub statistic: String,
    /// Index of the measure (0 = the statistic's first); default 0.
    #[serde(default)]
    pub measure: usize,
    /// For a chart of a two-dimensional statistic: group by only this dimension (0 or 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<usize>,
    /// Filters as the statistic takes them, without `filter[…]`: `{"state": "submitted"}`,
    /// `{"state[in]": "submitted,district_approved"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, String>,
    /// Whether the tile links to its statistic's page (default true).
    #[serde(default = "yes")]
    pub drill: bool,
}

fn yes() -> bool {
    true
}

impl TileDef {
    /// The tile's filters as statistic query parameters (`filter[state][in]`, value).
    pub fn query(&self) -> Vec<(String, String)> {
        self.filter
            .iter()
            .map(|(k, v)| {
                let name = match k.split_once('[') {
                    Some((field, rest)) => format!("filter[{field}][{rest}"),
                    None => format!("filter[{k}]"),
                };
                (name, v.clone())
            })
            .collect()
    }

    /// The statistic the tile computes: the pack's, grouped by only the tile's dimension
    /// when it names one.
    pub fn statistic_def(&self, def: &StatisticDef) -> StatisticDef {
        let mut def = def.clone();
        if let Some(d) = self.dimension.filter(|d| *d < def.dimensions.len()) {
            def.dimensions = vec![def.dimensions[d].clone()];
        }
        def
    }
}

/// The form of a statistic, as a dashboard check needs it.
pub struct StatisticForm<'a> {
    /// The statistic.
    pub def: &'a StatisticDef,
    /// Its form's fields.
    pub fields: &'a BTreeMap<String, Field>,
    /// Its form's schema.
    pub schema: &'a serde_json::Value,
}

/// Checks a dashboard against the pack's statistics; problems point into `file`.
pub fn check(
    def: &DashboardDef,
    statistics: &BTreeMap<String, StatisticForm<'_>>,
    file: &str,
) -> Vec<PackError> {
    let mut errs = Vec::new();
    if def.tiles.is_empty() {
        errs.push(PackError::new(
            file,
            "/tiles",
            "a dashboard needs at least one tile",
        ));
    }
    for (i, t) in def.tiles.iter().enumerate() {
        let at = format!("/tiles/{i}");
        let Some(s) = statistics.get(&t.statistic) else {
            errs.push(PackError::new(
                file,
                format!("{at}/statistic"),
                format!("statistic `{}` is not defined in statistics/", t.statistic),
            ));
            continue;
        };
        if t.measure >= s.def.measures.len() {
            errs.push(PackError::new(
                file,
                format!("{at}/measure"),
                format!(
                    "statistic `{}` has {} measure(s): measure is 0 to {}",
                    t.statistic,
                    s.def.measures.len(),
                    s.def.measures.len().saturating_sub(1)
                ),
            ));
        }
        if let Some(d) = t.dimension {
            if t.kind == TileKind::Figure {
                errs.push(PackError::new(
                    file,
                    format!("{at}/dimension"),
                    "a figure shows a total: it takes no dimension",
                ));
            } else if d >= s.def.dimensions.len() {
                errs.push(PackError::new(
                    file,
                    format!("{at}/dimension"),
                    format!(
                        "statistic `{}` has {} dimension(s): dimension is 0 to {}",
                        t.statistic,
                        s.def.dimensions.len(),
                        s.def.dimensions.len().saturating_sub(1)
                    ),
                ));
            }
        }
        if !t.filter.is_empty() {
            // A statistic that does not check is reported on its own.
            if let Ok(stat) =
                CompiledStatistic::check(&t.statistic, s.def.clone(), s.fields, s.schema, "")
            {
                {
                    for (k, v) in &t.filter {
                        let one = TileDef {
                            filter: BTreeMap::from([(k.clone(), v.clone())]),
                            ..t.clone()
                        };
                        if let Err(e) = stat.filters.parse_query(&one.query()) {
                            let reason = match e {
                                crate::Error::Invalid(f) => f
                                    .first()
                                    .map(|f| f.message_en.clone())
                                    .unwrap_or_else(|| "not a filter of the statistic".into()),
                                other => other.to_string(),
                            };
                            errs.push(PackError::new(
                                file,
                                format!("{at}/filter/{}", escape(k)),
                                reason,
                            ));
                        }
                    }
                }
            }
        }
    }
    errs
}
