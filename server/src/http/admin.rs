//! User and org administration for a tenant's `admin`: users (create, lock and unlock,
//! reset a password, change roles) and org units (the tree, add a unit). Role changes take
//! effect at once: the tenant's Casbin policies are reloaded after each one.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use form_runtime::FieldError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{Actor, Body};
use crate::state::AppState;
use crate::store::tenants::ADMIN_ROLE;
use crate::store::{audit, tenants, users};

/// Users per page of the user list.
const PAGE_SIZE: i64 = 50;

fn admin(actor: &Actor) -> ApiResult<()> {
    if actor.roles.iter().any(|r| r == ADMIN_ROLE) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "只有本单位管理员可以管理用户和组织".into(),
        ))
    }
}

fn invalid(pointer: &str, zh: String, en: String) -> ApiError {
    ApiError::Invalid(vec![FieldError::new(pointer, "invalid", zh, en)])
}

/// Query of `GET /api/v1/admin/users`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Part of a username or name.
    pub q: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
}

/// Handles `GET /api/v1/admin/users`.
pub async fn list_users(
    State(app): State<AppState>,
    actor: Actor,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let Query(q) = query?;
    let page = q.page.unwrap_or(1).max(1);
    let text = q.q.unwrap_or_default();
    let (items, total) = users::list(
        &app.db,
        actor.tenant(),
        text.trim(),
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    .await?;
    Ok(Json(
        json!({"items": items, "total": total, "page": page, "page_size": PAGE_SIZE}),
    ))
}

/// Body of `POST /api/v1/admin/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: lowercase letters, digits, `-`, `_`.
    pub username: String,
    /// Shown name.
    pub display_name: String,
    /// Org unit code.
    pub unit: String,
    /// Roles of the tenant.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A first password; a random one is made (and answered once) when absent.
    pub password: Option<String>,
}

/// Checks roles against the tenant's, as 422 at `/roles`.
async fn known_roles(app: &AppState, tenant: &str, roles: &[String]) -> ApiResult<()> {
    let known = tenants::roles(&app.db, tenant).await?;
    if let Some(r) = roles.iter().find(|r| !known.contains_key(*r)) {
        return Err(invalid(
            "/roles",
            format!("没有角色「{r}」"),
            format!("there is no role `{r}`"),
        ));
    }
    Ok(())
}

/// Handles `POST /api/v1/admin/users`: 201 with the user and, when generated, the first
/// password (shown this once).
pub async fn create_user(
    State(app): State<AppState>,
    actor: Actor,
    Body(new): Body<NewUser>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let username = new.username.trim().to_string();
    if !form_runtime::key::is_code(&username) {
        return Err(invalid(
            "/username",
            "用户名只能包含小写字母、数字、- 和 _".into(),
            "a username may only hold lowercase letters, digits, - and _".into(),
        ));
    }
    let name = new.display_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "/display_name",
            "姓名应为 1 到 100 个字".into(),
            "the name must have 1 to 100 characters".into(),
        ));
    }
    let unit_known = form_runtime::key::is_code(&new.unit)
        && tenants::unit_path(&app.db, tenant, &new.unit)
            .await?
            .is_some();
    if !unit_known {
        return Err(invalid(
            "/unit",
            format!("没有单位「{}」", new.unit),
            format!("there is no unit `{}`", new.unit),
        ));
    }
    known_roles(&app, tenant, &new.roles).await?;
    if let Some(p) = &new.password {
        if p.chars().count() < super::auth::MIN_PASSWORD_CHARS {
            return Err(invalid(
                "/password",
                format!("密码至少 {} 个字符", super::auth::MIN_PASSWORD_CHARS),
                format!(
                    "the password needs at least {} characters",
                    super::auth::MIN_PASSWORD_CHARS
                ),
            ));
        }
    }
    if users::for_login(&app.db, tenant, &username)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict {
            code: "username_taken",
            message: format!("用户名「{username}」已被使用"),
        });
    }
    let generated = new.password.is_none();
    let password = new.password.unwrap_or_else(crate::password::generate);
    let hash = crate::password::hash(password.clone()).await?;
    let mut tx = app.db.begin().await?;
    let id = users::create(&mut tx, tenant, &username, name, &hash, &new.unit).await?;
    users::set_roles(&mut tx, tenant, &id, &new.roles).await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "user.create",
        &username,
        &json!({"roles": new.roles, "unit": new.unit}),
    )
    .await?;
    tx.commit().await?;
    crate::coherence::refresh(&app, tenant).await?;
    let user = users::one(&app.db, tenant, &id).await?;
    let mut v = json!({"user": user});
    if generated {
        v["password"] = json!(password);
    }
    Ok((StatusCode::CREATED, Json(v)))
}

/// The user `id` of the actor's tenant, or 404.
async fn user_of(app: &AppState, actor: &Actor, id: &str) -> ApiResult<users::UserRow> {
    users::one(&app.db, actor.tenant(), id)
        .await?
        .ok_or_else(|| ApiError::NotFound("用户不存在".into()))
}

/// Body of `POST /api/v1/admin/users/{id}/lock`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// `true` locks (and ends the user's sessions), `false` unlocks.
    pub locked: bool,
}

/// Handles `POST /api/v1/admin/users/{id}/lock`.
pub async fn lock_user(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(req): Body<Lock>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let user = user_of(&app, &actor, &id).await?;
    if req.locked && user.id == actor.user.user_id {
        return Err(ApiError::Conflict {
            code: "own_account",
            message: "不能锁定自己的账号".into(),
        });
    }
    let mut tx = app.db.begin().await?;
    users::set_locked(&mut tx, actor.tenant(), &id, req.locked).await?;
    let action = if req.locked {
        "user.lock"
    } else {
        "user.unlock"
    };
    audit::append(
        &mut tx,
        actor.tenant(),
        Some(&actor.user.user_id),
        action,
        &user.username,
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({"user": user_of(&app, &actor, &id).await?})))
}

/// Handles `POST /api/v1/admin/users/{id}/password`: a new random password, answered once;
/// the user's sessions end.
pub async fn reset_password(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let user = user_of(&app, &actor, &id).await?;
    let password = crate::password::generate();
    let hash = crate::password::hash(password.clone()).await?;
    let mut tx = app.db.begin().await?;
    // Keeping no session ("" matches none): every session of the user ends.
    users::set_password(&mut tx, actor.tenant(), &id, &hash, "").await?;
    audit::append(
        &mut tx,
        actor.tenant(),
        Some(&actor.user.user_id),
        "user.password_reset",
        &user.username,
        &json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({"user": user, "password": password})))
}

/// Body of `PUT /api/v1/admin/users/{id}/roles`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// The roles the user holds from now on.
    pub roles: Vec<String>,
}

/// Handles `PUT /api/v1/admin/users/{id}/roles`: effective at once.
pub async fn set_roles(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(req): Body<Roles>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let user = user_of(&app, &actor, &id).await?;
    known_roles(&app, tenant, &req.roles).await?;
    if user.id == actor.user.user_id && !req.roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(ApiError::Conflict {
            code: "own_account",
            message: "不能取消自己的管理员角色".into(),
        });
    }
    let mut tx = app.db.begin().await?;
    users::set_roles(&mut tx, tenant, &id, &req.roles).await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "user.roles",
        &user.username,
        &json!({"from": user.roles, "to": req.roles}),
    )
    .await?;
    tx.commit().await?;
    crate::coherence::refresh(&app, tenant).await?;
    Ok(Json(json!({"user": user_of(&app, &actor, &id).await?})))
}

/// Body of `PUT /api/v1/admin/users/{id}/unit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitChoice {
    /// The unit's code.
    pub unit: String,
}

/// Handles `PUT /api/v1/admin/users/{id}/unit`: the user belongs to another unit from their
/// next request on (what they file, what `org` and `org_tree` scopes show them).
pub async fn set_unit(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    Body(req): Body<UnitChoice>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let user = user_of(&app, &actor, &id).await?;
    let unit = req.unit.trim();
    let known = form_runtime::key::is_code(unit)
        && tenants::unit_path(&app.db, tenant, unit).await?.is_some();
    if !known {
        return Err(invalid(
            "/unit",
            format!("没有单位「{unit}」"),
            format!("there is no unit `{unit}`"),
        ));
    }
    let mut tx = app.db.begin().await?;
    users::set_unit(&mut tx, tenant, &id, unit).await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "user.unit",
        &user.username,
        &json!({"from": user.unit, "to": unit}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({"user": user_of(&app, &actor, &id).await?})))
}

/// Body of `PUT /api/v1/admin/org/{code}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitName {
    /// The new name.
    pub name: String,
}

/// Handles `PUT /api/v1/admin/org/{code}`: renames a unit (its code and place stay).
pub async fn rename_unit(
    State(app): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    Body(req): Body<UnitName>,
) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "/name",
            "单位名称应为 1 到 100 个字".into(),
            "the name must have 1 to 100 characters".into(),
        ));
    }
    let mut tx = app.db.begin().await?;
    if !tenants::rename_unit(&mut tx, tenant, &code, name).await? {
        return Err(ApiError::NotFound(format!("没有单位「{code}」")));
    }
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "org.rename",
        &code,
        &json!({"name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({"code": code, "name": name})))
}

/// Handles `GET /api/v1/admin/org`: the units in tree order with their user counts, and the
/// tenant's roles (for forms that assign them).
pub async fn org(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<Value>> {
    admin(&actor)?;
    let units = tenants::units(&app.db, actor.tenant()).await?;
    let roles: Vec<Value> = tenants::roles(&app.db, actor.tenant())
        .await?
        .into_iter()
        .map(|(k, r)| json!({"key": k, "label": r.label}))
        .collect();
    Ok(Json(json!({"units": units, "roles": roles})))
}

/// Body of `POST /api/v1/admin/org`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    /// Unit code: lowercase letters, digits, `-`, `_`.
    pub code: String,
    /// Name.
    pub name: String,
    /// The parent unit's code.
    pub parent: String,
}

/// Handles `POST /api/v1/admin/org`.
pub async fn add_unit(
    State(app): State<AppState>,
    actor: Actor,
    Body(new): Body<NewUnit>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    admin(&actor)?;
    let tenant = actor.tenant();
    let code = new.code.trim();
    if !form_runtime::key::is_code(code) {
        return Err(invalid(
            "/code",
            "单位代码只能包含小写字母、数字、- 和 _".into(),
            "a unit code may only hold lowercase letters, digits, - and _".into(),
        ));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "/name",
            "单位名称应为 1 到 100 个字".into(),
            "the name must have 1 to 100 characters".into(),
        ));
    }
    let parent_known = form_runtime::key::is_code(&new.parent)
        && tenants::unit_path(&app.db, tenant, &new.parent)
            .await?
            .is_some();
    if !parent_known {
        return Err(invalid(
            "/parent",
            format!("没有上级单位「{}」", new.parent),
            format!("there is no parent unit `{}`", new.parent),
        ));
    }
    if tenants::unit_path(&app.db, tenant, code).await?.is_some() {
        return Err(ApiError::Conflict {
            code: "unit_exists",
            message: format!("单位代码「{code}」已被使用"),
        });
    }
    let mut tx = app.db.begin().await?;
    let path = tenants::add_unit(&mut tx, tenant, code, name, Some(&new.parent)).await?;
    audit::append(
        &mut tx,
        tenant,
        Some(&actor.user.user_id),
        "org.add",
        code,
        &json!({"name": name, "path": path}),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"code": code, "name": name, "parent": new.parent, "path": path})),
    ))
}
