//! Saved views: a user's named queries of a list, checked against the list when saved.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use form_runtime::error::FieldError;
use form_runtime::list::CompiledList;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use super::lists::list_query;
use crate::state::AppState;
use crate::store::views::{self, SavedView};

/// Longest view name, in characters.
const MAX_NAME: usize = 100;

/// Body of `POST /api/v1/lists/{list}/views`.
#[derive(Deserialize)]
pub struct NewView {
    name: String,
    #[serde(default)]
    query: String,
}

/// Handles `GET /api/v1/lists/{list}/views`: the user's own views of the list.
pub async fn list_views(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let list = visible_list(&app, &actor, &key).await?;
    let items = views::list(&app.db, actor.tenant(), &actor.user.user_id, &list.key).await?;
    Ok(Json(
        json!({"items": items.iter().map(view_json).collect::<Vec<_>>()}),
    ))
}

/// Handles `POST /api/v1/lists/{list}/views`: 422 when the query is not a valid request of
/// the list, 409 when the user already has a view of that name.
pub async fn create_view(
    State(app): State<AppState>,
    actor: Actor,
    Path(key): Path<String>,
    body: Result<Json<NewView>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(new) = body?;
    let list = visible_list(&app, &actor, &key).await?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "/name",
            "length",
            format!("名称应为 1 到 {MAX_NAME} 个字"),
            format!("the name must be 1 to {MAX_NAME} characters"),
        )]));
    }
    let query = new.query.trim().trim_start_matches('?');
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    list_query(&app, &actor, &list, &pairs).await?;
    let view = views::create(
        &app.db,
        actor.tenant(),
        &actor.user.user_id,
        &list.key,
        name,
        query,
    )
    .await?
    .ok_or_else(|| ApiError::Conflict {
        code: "name_taken",
        message: format!("已有名为「{name}」的视图"),
    })?;
    Ok((StatusCode::CREATED, Json(view_json(&view))))
}

/// Handles `DELETE /api/v1/lists/{list}/views/{id}`: only the user's own view; any other
/// id is 404.
pub async fn delete_view(
    State(app): State<AppState>,
    actor: Actor,
    Path((key, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let list = visible_list(&app, &actor, &key).await?;
    if views::delete(&app.db, actor.tenant(), &actor.user.user_id, &list.key, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("视图不存在".into()))
    }
}

/// The list, if it exists in the tenant and the user may read its form.
async fn visible_list(app: &AppState, actor: &Actor, key: &str) -> ApiResult<Arc<CompiledList>> {
    let (list, _) = app
        .catalog
        .list(&app.db, actor.tenant(), key)
        .await?
        .ok_or_else(|| ApiError::NotFound("列表不存在".into()))?;
    actor
        .viewer(app, &list.def.form)
        .await?
        .ok_or_else(|| ApiError::Forbidden("你没有查看此列表的权限".into()))?;
    Ok(list)
}

fn view_json(v: &SavedView) -> Value {
    json!({"id": v.id, "list": v.list_key, "name": v.name, "query": v.query, "created_at": v.created_at})
}
