//! Saved views: a user's named list requests (`migrations/*/0004_saved_views.sql`).
//!
//! Every function takes the tenant and the user, so a view is only ever found by its owner.

use sqlx::Row;

use super::{new_id, now, Db};

/// One saved view.
#[derive(Debug, Clone)]
pub struct SavedView {
    /// View id.
    pub id: String,
    /// The list it belongs to.
    pub list_key: String,
    /// The user's name for it.
    pub name: String,
    /// The list request's query string.
    pub query: String,
    /// When it was saved.
    pub created_at: String,
}

/// The user's views of a list, by name.
pub async fn list(
    db: &Db,
    tenant: &str,
    user: &str,
    list_key: &str,
) -> sqlx::Result<Vec<SavedView>> {
    let rows = sqlx::query(
        "select view_id, list_key, name, query, created_at from saved_views \
         where tenant_id = $1 and user_id = $2 and list_key = $3 order by name, view_id",
    )
    .bind(tenant)
    .bind(user)
    .bind(list_key)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SavedView {
                id: r.try_get("view_id")?,
                list_key: r.try_get("list_key")?,
                name: r.try_get("name")?,
                query: r.try_get("query")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Saves a view; None when the user already has a view of that name on the list.
pub async fn create(
    db: &Db,
    tenant: &str,
    user: &str,
    list_key: &str,
    name: &str,
    query: &str,
) -> sqlx::Result<Option<SavedView>> {
    let view = SavedView {
        id: new_id(),
        list_key: list_key.to_string(),
        name: name.to_string(),
        query: query.to_string(),
        created_at: now(),
    };
    let done = sqlx::query(
        "insert into saved_views (tenant_id, view_id, user_id, list_key, name, query, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7) \
         on conflict (tenant_id, user_id, list_key, name) do nothing",
    )
    .bind(tenant)
    .bind(&view.id)
    .bind(user)
    .bind(list_key)
    .bind(name)
    .bind(query)
    .bind(&view.created_at)
    .execute(db.pool())
    .await?;
    Ok((done.rows_affected() == 1).then_some(view))
}

/// Deletes the user's own view of the list; false when there is none with that id.
pub async fn delete(
    db: &Db,
    tenant: &str,
    user: &str,
    list_key: &str,
    view_id: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "delete from saved_views where tenant_id = $1 and user_id = $2 and list_key = $3 and view_id = $4",
    )
    .bind(tenant)
    .bind(user)
    .bind(list_key)
    .bind(view_id)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
