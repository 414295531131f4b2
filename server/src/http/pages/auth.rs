//! Login, logout and the language switch.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{field, form_pairs, render, render_status, safe_next, text, Posted, Signed};
use crate::http::error::ApiError;
use crate::http::extract::{Actor, Body};
use crate::state::AppState;

/// Query of `GET /login`.
#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    tenant: Option<String>,
}

/// Handles `GET /login`.
pub async fn login_page(
    State(app): State<AppState>,
    Query(q): Query<LoginQuery>,
    mut parts: Parts,
) -> Response {
    // Already signed in: straight on.
    if Actor::from_request_parts(&mut parts, &app).await.is_ok() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let notice = q.expired.is_some().then(|| text("session_expired"));
    render(
        None,
        "login.html",
        json!({
            "next": safe_next(q.next.as_deref()),
            "tenant": q.tenant.unwrap_or_default(),
            "notice": notice,
        }),
    )
}

/// Handles `POST /login`: the API's login; its session cookie is the page's.
pub async fn login(State(app): State<AppState>, body: Bytes) -> Response {
    let pairs = form_pairs(&body);
    let get = |k: &str| field(&pairs, k).unwrap_or("").trim().to_string();
    let next = safe_next(field(&pairs, "next"));
    let (tenant, username) = (get("tenant"), get("username"));
    let request = json!({"tenant": tenant, "username": username, "password": field(&pairs, "password").unwrap_or("")});
    let answer = match serde_json::from_value(request) {
        Ok(req) => crate::http::auth::login(State(app), Body(req)).await,
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    };
    match answer {
        Ok(ok) => {
            let mut out = Redirect::to(&next).into_response();
            if let Some(c) = ok.headers().get(header::SET_COOKIE) {
                out.headers_mut().insert(header::SET_COOKIE, c.clone());
            }
            out
        }
        Err(e) => {
            let message = match &e {
                ApiError::Unauthorized => text("login_failed"),
                other => other.body()["message"].as_str().unwrap_or("").to_string(),
            };
            let status = match e {
                ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
                e => e.status(),
            };
            let mut ctx =
                json!({"next": next, "tenant": tenant, "username": username, "error": message});
            render_status(None, status, "login.html", &mut ctx)
        }
    }
}

/// Handles `POST /logout`.
pub async fn logout(State(app): State<AppState>, Posted { actor, .. }: Posted) -> Response {
    let tenant = actor.tenant().to_string();
    if let Err(e) = crate::http::auth::logout(State(app), actor).await {
        tracing::warn!(error = ?e, "logout failed");
    }
    let clear =
        HeaderValue::from_static("formwork_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let mut out = Redirect::to(&format!("/login?tenant={tenant}")).into_response();
    out.headers_mut().insert(header::SET_COOKIE, clear);
    out
}

/// Query of `GET /lang/{lang}`.
#[derive(Deserialize, Default)]
pub struct BackQuery {
    next: Option<String>,
}

/// Handles `GET /lang/{zh|en}`: remembers the language for a year and goes back to the
/// page it was chosen on (`next`, else the referring page of this site).
pub async fn switch_language(
    Path(lang): Path<String>,
    Query(q): Query<BackQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    let referer = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|u| match u.query() {
            Some(qs) => format!("{}?{qs}", u.path()),
            None => u.path().to_string(),
        });
    let back = q.next.or(referer);
    let lang = if lang == "en" { "en" } else { "zh" };
    let cookie = format!(
        "{}={lang}; Path=/; SameSite=Lax; Max-Age=31536000",
        super::LANG_COOKIE
    );
    let mut out = Redirect::to(&safe_next(back.as_deref())).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        out.headers_mut().insert(header::SET_COOKIE, v);
    }
    out
}

/// Handles `GET /account/password`.
pub async fn password_page(Signed(actor): Signed) -> Response {
    render(Some(&actor), "password.html", json!({}))
}

/// Handles `POST /account/password`: the API's password change.
pub async fn change_password(
    State(app): State<AppState>,
    Posted { actor, pairs }: Posted,
) -> Response {
    let get = |k: &str| field(&pairs, k).unwrap_or("").to_string();
    if get("new_password") != get("repeat_password") {
        let mut ctx = json!({"errors": {"repeat_password": text("passwords_differ")}});
        return render_status(
            Some(&actor),
            StatusCode::UNPROCESSABLE_ENTITY,
            "password.html",
            &mut ctx,
        );
    }
    let req = crate::http::auth::PasswordChange {
        current_password: get("current_password"),
        new_password: get("new_password"),
    };
    match crate::http::auth::change_password(State(app), actor.clone(), Body(req)).await {
        Ok(_) => render(Some(&actor), "password.html", json!({"done": true})),
        Err(ApiError::Invalid(fields)) => {
            let english = crate::http::lang::is_english();
            let errors: serde_json::Map<String, serde_json::Value> = fields
                .into_iter()
                .map(|f| {
                    let m = if english { f.message_en } else { f.message };
                    (f.pointer.trim_start_matches('/').to_string(), json!(m))
                })
                .collect();
            let mut ctx = json!({"errors": errors});
            render_status(
                Some(&actor),
                StatusCode::UNPROCESSABLE_ENTITY,
                "password.html",
                &mut ctx,
            )
        }
        Err(e) => super::error_page(Some(&actor), e, "/account/password"),
    }
}
