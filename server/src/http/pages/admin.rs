//! Administration pages for a tenant's admin: users (search, create, lock and unlock, reset
//! a password, roles) and the org tree (add a unit), over the admin API. A new or reset
//! password is shown once on the page that made it.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{error_page, field, here, render_status, Posted, Signed};
use crate::http::admin::{self, UserQuery};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Actor, Body};
use crate::http::lang;
use crate::state::AppState;

/// What the users page shows besides the list: a notice (a password to pass on) or errors.
#[derive(Default)]
struct Outcome {
    notice: Option<Value>,
    errors: Value,
    status: Option<StatusCode>,
}

async fn users_page(
    app: &AppState,
    actor: &Actor,
    q: UserQuery,
    out: Outcome,
) -> ApiResult<Response> {
    let text = q.q.clone().unwrap_or_default();
    let Json(list) = admin::list_users(State(app.clone()), actor.clone(), Ok(Query(q))).await?;
    let Json(org) = admin::org(State(app.clone()), actor.clone()).await?;
    let total = list["total"].as_i64().unwrap_or(0);
    let page = list["page"].as_i64().unwrap_or(1);
    let pages = (total + 49) / 50;
    let mut ctx = json!({
        "users": list["items"], "total": total, "page": page, "pages": pages.max(1), "q": text,
        "units": org["units"], "roles": org["roles"], "notice": out.notice, "errors": out.errors,
    });
    Ok(render_status(
        Some(actor),
        out.status.unwrap_or(StatusCode::OK),
        "admin_users.html",
        &mut ctx,
    ))
}

/// Handles `GET /admin/users`.
pub async fn users(
    State(app): State<AppState>,
    Signed(actor): Signed,
    Query(q): Query<UserQuery>,
    uri: Uri,
) -> Response {
    users_page(&app, &actor, q, Outcome::default())
        .await
        .unwrap_or_else(|e| error_page(Some(&actor), e, &here(&uri)))
}

/// Field errors of a refusal by field name, in the page's language.
fn errors_of(e: &ApiError) -> Value {
    let english = lang::is_english();
    match e {
        ApiError::Invalid(fields) => fields
            .iter()
            .map(|f| {
                let m = if english { &f.message_en } else { &f.message };
                (f.pointer.trim_start_matches('/').to_string(), json!(m))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => json!({"form": other.body()["message"]}),
    }
}

/// Handles `POST /admin/users`: creates a user and shows their first password once.
pub async fn create(State(app): State<AppState>, Posted { actor, pairs }: Posted) -> Response {
    let roles: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v.as_str())
        .collect();
    let get = |k: &str| field(&pairs, k).unwrap_or("").trim().to_string();
    let password = Some(get("password")).filter(|p| !p.is_empty());
    let new = serde_json::from_value(json!({
        "username": get("username"), "display_name": get("display_name"), "unit": get("unit"),
        "roles": roles, "password": password,
    }));
    let made = match new {
        Ok(new) => admin::create_user(State(app.clone()), actor.clone(), Body(new)).await,
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    };
    let out = match made {
        Ok((_, Json(v))) => Outcome {
            notice: Some(json!({"username": v["user"]["username"], "password": v["password"]})),
            ..Outcome::default()
        },
        Err(e @ (ApiError::Invalid(_) | ApiError::Conflict { .. } | ApiError::BadRequest(_))) => {
            Outcome {
                errors: errors_of(&e),
                status: Some(e.status()),
                ..Outcome::default()
            }
        }
        Err(e) => return error_page(Some(&actor), e, "/admin/users"),
    };
    users_page(&app, &actor, UserQuery::default(), out)
        .await
        .unwrap_or_else(|e| error_page(Some(&actor), e, "/admin/users"))
}

/// Handles `POST /admin/users/{id}/{what}`: `lock`, `unlock`, `password` (reset, shown
/// once), `roles` or `unit`.
pub async fn change(
    State(app): State<AppState>,
    Path((id, what)): Path<(String, String)>,
    Posted { actor, pairs }: Posted,
) -> Response {
    let done: ApiResult<Option<Value>> = async {
        match what.as_str() {
            "lock" | "unlock" => {
                let req = admin::Lock {
                    locked: what == "lock",
                };
                let _user = admin::lock_user(
                    State(app.clone()),
                    actor.clone(),
                    Path(id.clone()),
                    Body(req),
                )
                .await?;
                Ok(None)
            }
            "password" => {
                let Json(v) =
                    admin::reset_password(State(app.clone()), actor.clone(), Path(id.clone()))
                        .await?;
                Ok(Some(
                    json!({"username": v["user"]["username"], "password": v["password"]}),
                ))
            }
            "roles" => {
                let roles = pairs
                    .iter()
                    .filter(|(k, _)| k == "roles")
                    .map(|(_, v)| v.clone())
                    .collect();
                let req = admin::Roles { roles };
                let _user = admin::set_roles(
                    State(app.clone()),
                    actor.clone(),
                    Path(id.clone()),
                    Body(req),
                )
                .await?;
                Ok(None)
            }
            "unit" => {
                let req = admin::UnitChoice {
                    unit: field(&pairs, "unit").unwrap_or("").to_string(),
                };
                let _user = admin::set_unit(
                    State(app.clone()),
                    actor.clone(),
                    Path(id.clone()),
                    Body(req),
                )
                .await?;
                Ok(None)
            }
            _ => Err(ApiError::NotFound("没有这个操作".into())),
        }
    }
    .await;
    match done {
        Ok(None) => Redirect::to("/admin/users").into_response(),
        Ok(Some(notice)) => users_page(
            &app,
            &actor,
            UserQuery::default(),
            Outcome {
                notice: Some(notice),
                ..Outcome::default()
            },
        )
        .await
        .unwrap_or_else(|e| error_page(Some(&actor), e, "/admin/users")),
        Err(e) => error_page(Some(&actor), e, "/admin/users"),
    }
}

/// Handles `GET /admin/org`.
pub async fn org(State(app): State<AppState>, Signed(actor): Signed, uri: Uri) -> Response {
    org_page(&app, &actor, json!({}), StatusCode::OK)
        .await
        .unwrap_or_else(|e| error_page(Some(&actor), e, &here(&uri)))
}

async fn org_page(
    app: &AppState,
    actor: &Actor,
    errors: Value,
    status: StatusCode,
) -> ApiResult<Response> {
    let Json(org) = admin::org(State(app.clone()), actor.clone()).await?;
    let units: Vec<Value> = org["units"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            let depth = u["path"]
                .as_str()
                .unwrap_or("/")
                .matches('/')
                .count()
                .saturating_sub(2);
            let mut u = u.clone();
            u["depth"] = json!(depth);
            u
        })
        .collect();
    let mut ctx = json!({"units": units, "errors": errors});
    Ok(render_status(
        Some(actor),
        status,
        "admin_org.html",
        &mut ctx,
    ))
}

/// Handles `POST /admin/org`: adds a unit.
pub async fn add_unit(State(app): State<AppState>, Posted { actor, pairs }: Posted) -> Response {
    let get = |k: &str| field(&pairs, k).unwrap_or("").trim().to_string();
    let new = admin::NewUnit {
        code: get("code"),
        name: get("name"),
        parent: get("parent"),
    };
    match admin::add_unit(State(app.clone()), actor.clone(), Body(new)).await {
        Ok(_) => Redirect::to("/admin/org").into_response(),
        Err(e @ (ApiError::Invalid(_) | ApiError::Conflict { .. })) => {
            let status = e.status();
            org_page(&app, &actor, errors_of(&e), status)
                .await
                .unwrap_or_else(|e| error_page(Some(&actor), e, "/admin/org"))
        }
        Err(e) => error_page(Some(&actor), e, "/admin/org"),
    }
}

/// Handles `POST /admin/org/{code}`: renames a unit.
pub async fn rename_unit(
    State(app): State<AppState>,
    Path(code): Path<String>,
    Posted { actor, pairs }: Posted,
) -> Response {
    let req = admin::UnitName {
        name: field(&pairs, "name").unwrap_or("").to_string(),
    };
    match admin::rename_unit(State(app.clone()), actor.clone(), Path(code), Body(req)).await {
        Ok(_) => Redirect::to("/admin/org").into_response(),
        Err(e @ ApiError::Invalid(_)) => {
            let status = e.status();
            org_page(&app, &actor, json!({"form": errors_of(&e)["name"]}), status)
                .await
                .unwrap_or_else(|e| error_page(Some(&actor), e, "/admin/org"))
        }
        Err(e) => error_page(Some(&actor), e, "/admin/org"),
    }
}

/// Whether the actor sees the admin pages in the menu.
pub fn is_admin(actor: &Actor) -> bool {
    actor
        .roles
        .iter()
        .any(|r| r == crate::store::tenants::ADMIN_ROLE)
}

/// Handles `GET /admin/packs`: installed packs and the upload (`packs.js`).
pub async fn packs(State(app): State<AppState>, Signed(actor): Signed, uri: Uri) -> Response {
    match crate::http::packs::installed(State(app), actor.clone()).await {
        Ok(Json(v)) => super::render(
            Some(&actor),
            "admin_packs.html",
            json!({"packs": v["items"]}),
        ),
        Err(e) => error_page(Some(&actor), e, &here(&uri)),
    }
}
