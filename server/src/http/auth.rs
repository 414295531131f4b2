//! Login, logout and "who am I".

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use form_runtime::FieldError;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{token_hash, Actor, Body, SESSION_COOKIE};
use crate::password;
use crate::state::AppState;
use crate::store::{audit, users};

/// Consecutive failed logins after which an account is locked.
pub const MAX_FAILED_LOGINS: i64 = 10;

/// Body of `POST /api/v1/auth/login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    tenant: String,
    username: String,
    password: String,
}

fn user_json(a: &Actor) -> Value {
    json!({
        "id": a.user.user_id,
        "username": a.user.username,
        "display_name": a.user.display_name,
        "tenant": a.user.tenant,
        "org_unit": {"code": a.user.unit_id, "name": a.user.unit_name, "path": a.user.org_path},
        "roles": a.roles,
    })
}

/// Handles `POST /api/v1/auth/login`.
pub async fn login(
    State(app): State<AppState>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Response> {
    let invalid = ApiError::Unauthorized;
    if !form_runtime::key::is_code(&req.tenant) {
        return Err(invalid);
    }
    let Some(row) = users::for_login(&app.db, &req.tenant, &req.username).await? else {
        // Spend the same time as a real check so timing does not reveal which names exist.
        let _ = password::verify(req.password.clone(), password::dummy_hash().await).await;
        return Err(invalid);
    };
    if row.locked {
        return Err(ApiError::Forbidden("账号已锁定，请联系管理员".into()));
    }
    if !password::verify(req.password, row.password_hash).await {
        let mut tx = app.db.begin().await?;
        let failed = users::count_failed_login(&mut tx, &req.tenant, &row.user_id).await?;
        if failed >= MAX_FAILED_LOGINS {
            users::lock(&mut tx, &req.tenant, &row.user_id).await?;
        }
        audit::append(
            &mut tx,
            &req.tenant,
            Some(&row.user_id),
            "auth.login_failed",
            &req.username,
            &json!({"failed": failed}),
        )
        .await?;
        tx.commit().await?;
        return Err(invalid);
    }
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let token = format!("{}.{}", req.tenant, hex::encode(secret));
    let hash = token_hash(&token);
    let expires = chrono::Utc::now() + chrono::Duration::hours(app.session_hours);
    let expires_s = crate::store::stamp(expires);
    let mut tx = app.db.begin().await?;
    users::create_session(&mut tx, &req.tenant, &row.user_id, &hash, &expires_s).await?;
    audit::append(
        &mut tx,
        &req.tenant,
        Some(&row.user_id),
        "auth.login",
        &req.username,
        &json!({}),
    )
    .await?;
    tx.commit().await?;

    let user = users::session_user(&app.db, &req.tenant, &hash)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let roles = app.authz.roles(&user.user_id, &req.tenant).await;
    let actor = Actor {
        user,
        roles,
        token_hash: hash,
        clearances: Default::default(),
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        app.session_hours * 3600
    );
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    Ok((
        headers,
        Json(json!({"token": token, "expires_at": expires_s, "user": user_json(&actor)})),
    )
        .into_response())
}

/// Handles `POST /api/v1/auth/logout`.
pub async fn logout(State(app): State<AppState>, actor: Actor) -> ApiResult<Response> {
    let mut tx = app.db.begin().await?;
    users::delete_session(&mut tx, actor.tenant(), &actor.token_hash).await?;
    audit::append(
        &mut tx,
        actor.tenant(),
        Some(&actor.user.user_id),
        "auth.logout",
        &actor.user.username,
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    let clear =
        HeaderValue::from_static("formwork_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// Handles `GET /api/v1/me`.
pub async fn me(actor: Actor) -> Json<Value> {
    Json(user_json(&actor))
}

/// Body of `POST /api/v1/me/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// Shortest new password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Handles `POST /api/v1/me/password`: checks the current password, takes a new one of at
/// least ten characters that differs from it and from the username, and ends the user's
/// other sessions.
pub async fn change_password(
    State(app): State<AppState>,
    actor: Actor,
    Body(req): Body<PasswordChange>,
) -> ApiResult<StatusCode> {
    let tenant = actor.tenant();
    let uid = &actor.user.user_id;
    let stored = users::password_hash(&app.db, tenant, uid)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !password::verify(req.current_password.clone(), stored).await {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "/current_password",
            "password",
            "当前密码不正确",
            "the current password is wrong",
        )]));
    }
    let new = req.new_password;
    let problem = if new.chars().count() < MIN_PASSWORD_CHARS {
        Some((
            format!("新密码至少 {MIN_PASSWORD_CHARS} 个字符"),
            format!("the new password needs at least {MIN_PASSWORD_CHARS} characters"),
        ))
    } else if new.chars().count() > 128 {
        Some((
            "新密码最多 128 个字符".into(),
            "the new password may have at most 128 characters".into(),
        ))
    } else if new == req.current_password {
        Some((
            "新密码不能与当前密码相同".into(),
            "the new password must differ from the current one".into(),
        ))
    } else if new.eq_ignore_ascii_case(&actor.user.username) {
        Some((
            "新密码不能与用户名相同".into(),
            "the new password must differ from the username".into(),
        ))
    } else {
        None
    };
    if let Some((zh, en)) = problem {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "/new_password",
            "password",
            zh,
            en,
        )]));
    }
    let hash = password::hash(new).await?;
    let mut tx = app.db.begin().await?;
    users::set_password(&mut tx, tenant, uid, &hash, &actor.token_hash).await?;
    audit::append(
        &mut tx,
        tenant,
        Some(uid),
        "auth.password_change",
        &actor.user.username,
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
