//! List requests readied for the store, as the actor may ask them.

use form_runtime::error::FieldError;
use form_runtime::list::{CompiledList, ListQuery, ORG_FILTER};

use super::context::Actor;
use super::error::{Error as ApiError, Result as ApiResult};
use super::sensitive;
use crate::state::AppState;
use crate::store::tenants;

/// Parses a list request and readies it for the store: `filter[org]` resolved to the unit's
/// path (an unknown unit is 422), sensitive filter values swapped for blind indexes, fields
/// the actor does not see refused as filters and sort keys and left out of the search.
pub async fn list_query(
    app: &AppState,
    actor: &Actor,
    list: &CompiledList,
    pairs: &[(String, String)],
) -> ApiResult<ListQuery> {
    let tenant = actor.tenant();
    let mut q = list.parse_query(pairs)?;
    if let Some(form) = app
        .catalog
        .form(&app.db, tenant, &list.def.form, None)
        .await?
    {
        let hidden = form.workflow.hidden_somewhere(&actor.roles);
        let errs: Vec<FieldError> = q
            .filters
            .iter()
            .map(|f| (format!("/query/filter[{}]", f.field), &f.field))
            .chain(q.sort.iter().map(|s| ("/query/sort".to_string(), &s.field)))
            .filter(|(_, f)| hidden.contains(*f))
            .map(|(ptr, f)| {
                FieldError::new(
                    ptr,
                    "query",
                    format!("你无权按「{}」筛选或排序", form.label(f)),
                    format!("you may not filter or sort by `{f}`"),
                )
            })
            .collect();
        if !errs.is_empty() {
            return Err(ApiError::Invalid(errs));
        }
        // A group header would show the field's value: a reader who may not see the field
        // gets the list ungrouped.
        if q.group.as_ref().is_some_and(|g| hidden.contains(g)) {
            q.group = None;
        }
        q.unsearchable = list
            .def
            .search
            .iter()
            .filter(|f| hidden.contains(*f))
            .cloned()
            .collect();
    }
    if let Some(unit) = q.org.take() {
        let path = tenants::unit_path(&app.db, tenant, &unit)
            .await?
            .ok_or_else(|| {
                ApiError::Invalid(vec![FieldError::new(
                    format!("/query/filter[{ORG_FILTER}]"),
                    "query",
                    format!("没有机构「{unit}」"),
                    format!("there is no org unit `{unit}`"),
                )])
            })?;
        q.org = Some(path);
    }
    sensitive::blind_filters(app, tenant, list, &mut q).await?;
    Ok(q)
}
