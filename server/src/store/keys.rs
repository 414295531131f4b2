//! Tenant keys: each tenant's data key and blind-index key, stored only wrapped (encrypted
//! under the master key, see `crate::crypto`). A tenant's row is written once and never
//! changed; two servers creating it at once both end up reading the one that won.

use sqlx::Row;

use super::{now, Db, Tx};

/// A tenant's keys as stored: wrapped, never clear.
#[derive(Debug, Clone)]
pub struct WrappedKeys {
    /// The tenant.
    pub tenant: String,
    /// Data key (SM4-GCM) wrapped under the master key.
    pub data_key: String,
    /// Blind-index key (HMAC-SM3) wrapped under the master key.
    pub index_key: String,
}

/// The tenant's wrapped keys, if they were created.
pub async fn fetch(db: &Db, tenant: &str) -> sqlx::Result<Option<WrappedKeys>> {
    let row =
        sqlx::query("select tenant_id, data_key, index_key from tenant_keys where tenant_id = $1")
            .bind(tenant)
            .fetch_optional(db.pool())
            .await?;
    row.as_ref().map(to_keys).transpose()
}

/// Any one tenant's wrapped keys: used at start to prove the master key is the right one.
pub async fn any(db: &Db) -> sqlx::Result<Option<WrappedKeys>> {
    let row = sqlx::query("select tenant_id, data_key, index_key from tenant_keys limit 1")
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(to_keys).transpose()
}

/// Stores the tenant's keys unless it has some already (then the existing ones stay).
pub async fn insert_if_absent(tx: &mut Tx, keys: &WrappedKeys) -> sqlx::Result<()> {
    sqlx::query(
        "insert into tenant_keys (tenant_id, data_key, index_key, created_at) values ($1, $2, $3, $4) \
         on conflict (tenant_id) do nothing",
    )
    .bind(&keys.tenant)
    .bind(&keys.data_key)
    .bind(&keys.index_key)
    .bind(now())
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn to_keys(r: &sqlx::any::AnyRow) -> sqlx::Result<WrappedKeys> {
    Ok(WrappedKeys {
        tenant: r.try_get("tenant_id")?,
        data_key: r.try_get("data_key")?,
        index_key: r.try_get("index_key")?,
    })
}
