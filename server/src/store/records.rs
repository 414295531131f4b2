//! Records and their event history.
//!
//! A record's state changes only in [`update`] with the plan of a workflow transition, and
//! every change compares the row version it read: a stale writer changes nothing.

use form_runtime::list::{CompiledList, ListQuery};
use form_runtime::scope::Scope;
use form_runtime::sql::Sql;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{bind_all, json_column, json_param, Db, Tx};

/// Who is looking, and how far they see: turned into the scope predicate of every read.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// User id.
    pub user_id: String,
    /// Materialised path of the user's org unit.
    pub org_path: String,
    /// The widest scope the user holds on the form.
    pub scope: Scope,
}

/// A record as stored.
#[derive(Debug, Clone)]
pub struct RecordRow {
    /// Record id.
    pub id: String,
    /// Form key.
    pub form_key: String,
    /// Form version it was written with.
    pub form_version: i64,
    /// Workflow state.
    pub state: String,
    /// The data.
    pub data: Value,
    /// Creator's user id.
    pub owner_id: String,
    /// Creator's org unit path.
    pub org_path: String,
    /// Row version for optimistic locking.
    pub version: i64,
    /// Created at (ISO 8601 UTC).
    pub created_at: String,
    /// Last changed at.
    pub updated_at: String,
}

/// One entry of a record's history.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Position in the record's history, from 1.
    pub seq: i64,
    /// `create`, `update` or `transition`.
    pub kind: String,
    /// The action fired, for transitions.
    pub action: Option<String>,
    /// State before.
    pub from_state: Option<String>,
    /// State after.
    pub to_state: Option<String>,
    /// Who.
    pub actor_id: String,
    /// Their login name.
    pub actor_username: Option<String>,
    /// Their display name.
    pub actor_name: Option<String>,
    /// The comment or reason.
    pub comment: Option<String>,
    /// Changed fields: `{field: [old, new]}`.
    pub changes: Option<Value>,
    /// When.
    pub created_at: String,
}

/// An event to append.
pub struct NewEvent<'a> {
    /// `create`, `update` or `transition`.
    pub kind: &'a str,
    /// The action fired, for transitions.
    pub action: Option<&'a str>,
    /// State before.
    pub from_state: Option<&'a str>,
    /// State after.
    pub to_state: Option<&'a str>,
    /// Who.
    pub actor_id: &'a str,
    /// Comment or reason.
    pub comment: Option<&'a str>,
    /// Changed fields.
    pub changes: Option<&'a Value>,
    /// When.
    pub at: &'a str,
}

fn columns(db_dialect: form_runtime::sql::Dialect) -> String {
    format!(
        "record_id, form_key, form_version, state, {} as data, owner_id, org_path, row_version, created_at, updated_at",
        json_column(db_dialect, "data")
    )
}

fn row_to_record(r: &AnyRow) -> anyhow::Result<RecordRow> {
    Ok(RecordRow {
        id: r.try_get("record_id")?,
        form_key: r.try_get("form_key")?,
        form_version: r.try_get("form_version")?,
        state: r.try_get("state")?,
        data: serde_json::from_str(&r.try_get::<String, _>("data")?)?,
        owner_id: r.try_get("owner_id")?,
        org_path: r.try_get("org_path")?,
        version: r.try_get("row_version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The records `owner` created, most recently changed first; at most `limit`. The caller
/// decides what of them the owner may see.
pub async fn recent_of_owner(
    db: &Db,
    tenant: &str,
    owner: &str,
    limit: i64,
) -> anyhow::Result<Vec<RecordRow>> {
    let sql = format!(
        "select {} from records where tenant_id = $1 and owner_id = $2 order by updated_at desc limit $3",
        columns(db.dialect())
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(owner)
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(row_to_record).collect()
}

/// The records of `form` created at exactly `at` (a stamp), whoever owns them: what one
/// transition's `create` effect made, found by the caller among them by its link.
pub async fn created_at(
    db: &Db,
    tenant: &str,
    form: &str,
    at: &str,
) -> anyhow::Result<Vec<RecordRow>> {
    let sql = format!(
        "select {} from records where tenant_id = $1 and form_key = $2 and created_at = $3",
        columns(db.dialect())
    );
    let rows = sqlx::query(&sql)
        .bind(tenant)
        .bind(form)
        .bind(at)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(row_to_record).collect()
}

/// Inserts a new record.
pub async fn insert(tx: &mut Tx, tenant: &str, r: &RecordRow) -> sqlx::Result<()> {
    let sql = format!(
        "insert into records (tenant_id, record_id, form_key, form_version, state, data, owner_id, org_path, row_version, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, {}, $7, $8, $9, $10, $11)",
        json_param(tx.dialect(), 6)
    );
    sqlx::query(&sql)
        .bind(tenant)
        .bind(&r.id)
        .bind(&r.form_key)
        .bind(r.form_version)
        .bind(&r.state)
        .bind(r.data.to_string())
        .bind(&r.owner_id)
        .bind(&r.org_path)
        .bind(r.version)
        .bind(&r.created_at)
        .bind(&r.updated_at)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Reads a record the viewer may see; `None` when it does not exist *for them*.
pub async fn fetch(
    db: &Db,
    tenant: &str,
    id: &str,
    viewer: &Viewer,
) -> anyhow::Result<Option<RecordRow>> {
    let mut sql = Sql::new(db.dialect());
    sql.push(&format!(
        "select {} from records where tenant_id = ",
        columns(db.dialect())
    ));
    sql.bind_text(tenant)
        .push(" and record_id = ")
        .bind_text(id)
        .push(" and ");
    viewer
        .scope
        .predicate(&mut sql, &viewer.user_id, &viewer.org_path);
    let row = bind_all(sqlx::query(&sql.text), &sql.params)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(row_to_record).transpose()
}

/// The form of a record, whoever may see it; used to decide which scope applies.
pub async fn form_of(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<String>> {
    let row = sqlx::query("select form_key from records where tenant_id = $1 and record_id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| r.try_get("form_key")).transpose()
}

/// What a change writes to a record: its state, form version, data and time.
pub struct RecordWrite<'a> {
    /// The state after the change.
    pub state: &'a str,
    /// The form version after the change (a draft moved forward has a newer one).
    pub form_version: i64,
    /// The stored (sealed) data.
    pub data: &'a Value,
    /// When.
    pub at: &'a str,
}

/// Writes a change if the row version is still `expected`; false when it is not.
pub async fn update(
    tx: &mut Tx,
    tenant: &str,
    id: &str,
    expected: i64,
    c: &RecordWrite<'_>,
) -> sqlx::Result<bool> {
    let sql = format!(
        "update records set state = $1, data = {}, form_version = $3, row_version = row_version + 1, updated_at = $4 \
         where tenant_id = $5 and record_id = $6 and row_version = $7",
        json_param(tx.dialect(), 2)
    );
    let done = sqlx::query(&sql)
        .bind(c.state)
        .bind(c.data.to_string())
        .bind(c.form_version)
        .bind(c.at)
        .bind(tenant)
        .bind(id)
        .bind(expected)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Appends an event to a record's history.
pub async fn add_event(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    e: &NewEvent<'_>,
) -> sqlx::Result<i64> {
    let seq: i64 = sqlx::query("select coalesce(max(seq), 0) + 1 as next from record_events where tenant_id = $1 and record_id = $2")
        .bind(tenant)
        .bind(record_id)
        .fetch_one(tx.conn())
        .await?
        .try_get("next")?;
    insert_event(tx, tenant, record_id, seq, e).await?;
    Ok(seq)
}

/// Appends event number `seq` to a record's history, when the caller knows it (the first
/// events of a record it has just created).
pub async fn insert_event(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    seq: i64,
    e: &NewEvent<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into record_events (tenant_id, record_id, seq, kind, action, from_state, to_state, actor_id, comment, changes, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tenant)
    .bind(record_id)
    .bind(seq)
    .bind(e.kind)
    .bind(e.action)
    .bind(e.from_state)
    .bind(e.to_state)
    .bind(e.actor_id)
    .bind(e.comment)
    .bind(e.changes.map(Value::to_string))
    .bind(e.at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

const EVENTS_SQL: &str = "select e.seq, e.kind, e.action, e.from_state, e.to_state, e.actor_id, u.username, u.display_name, e.comment, e.changes, e.created_at \
     from record_events e left join users u on u.tenant_id = e.tenant_id and u.user_id = e.actor_id \
     where e.tenant_id = $1 and e.record_id = $2 order by e.seq";

/// A record's history, oldest first, with the actors' names.
pub async fn events(db: &Db, tenant: &str, record_id: &str) -> anyhow::Result<Vec<EventRow>> {
    let rows = sqlx::query(EVENTS_SQL)
        .bind(tenant)
        .bind(record_id)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(event_row).collect()
}

/// A record's history as the transaction `tx` sees it: with the event the change being made
/// has just written (what a document kept by that change prints).
pub async fn events_in(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
) -> anyhow::Result<Vec<EventRow>> {
    let rows = sqlx::query(EVENTS_SQL)
        .bind(tenant)
        .bind(record_id)
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(event_row).collect()
}

fn event_row(r: &sqlx::any::AnyRow) -> anyhow::Result<EventRow> {
    let changes: Option<String> = r.try_get("changes")?;
    Ok(EventRow {
        seq: r.try_get("seq")?,
        kind: r.try_get("kind")?,
        action: r.try_get("action")?,
        from_state: r.try_get("from_state")?,
        to_state: r.try_get("to_state")?,
        actor_id: r.try_get("actor_id")?,
        actor_username: r.try_get("username")?,
        actor_name: r.try_get("display_name")?,
        comment: r.try_get("comment")?,
        changes: changes.map(|c| serde_json::from_str(&c)).transpose()?,
        created_at: r.try_get("created_at")?,
    })
}

/// One page of a list, and the total count of rows matching it.
pub async fn list(
    db: &Db,
    tenant: &str,
    list: &CompiledList,
    q: &ListQuery,
    viewer: &Viewer,
) -> anyhow::Result<(Vec<RecordRow>, i64)> {
    let filter = list_filter(db, tenant, list, q, viewer);
    let order = list.order_by(q, db.dialect());
    page(db, &filter, &order, q.page, q.page_size).await
}

/// How many records a list request selects (no paging).
pub async fn list_count(
    db: &Db,
    tenant: &str,
    list: &CompiledList,
    q: &ListQuery,
    viewer: &Viewer,
) -> anyhow::Result<i64> {
    let filter = list_filter(db, tenant, list, q, viewer);
    let count = format!("select count(*) as n{}", filter.text);
    let n: i64 = bind_all(sqlx::query(&count), &filter.params)
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    Ok(n)
}

/// The groups of a grouped list request: each group value (None for records without one)
/// with how many records it selects, scope and filters exactly as [`list`]'s, in page order.
/// Empty when the request is not grouped.
pub async fn list_groups(
    db: &Db,
    tenant: &str,
    list: &CompiledList,
    q: &ListQuery,
    viewer: &Viewer,
) -> anyhow::Result<Vec<(Option<String>, i64)>> {
    let filter = list_filter(db, tenant, list, q, viewer);
    let Some(sql) = list.group_count_sql(q, db.dialect(), &filter.text) else {
        return Ok(Vec::new());
    };
    let rows = bind_all(sqlx::query(&sql), &filter.params)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("g")?, r.try_get("n")?)))
        .collect()
}

/// Every record a list request selects, in its order, sent one by one into `out` as the
/// database returns them (memory stays flat however many there are). Stops early when the
/// receiver is gone.
pub async fn list_stream(
    db: &Db,
    tenant: &str,
    list: &CompiledList,
    q: &ListQuery,
    viewer: &Viewer,
    out: tokio::sync::mpsc::Sender<RecordRow>,
) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let filter = list_filter(db, tenant, list, q, viewer);
    let order = list.order_by(q, db.dialect());
    let sql = format!(
        "select {}{} order by {order}",
        columns(db.dialect()),
        filter.text
    );
    let mut rows = bind_all(sqlx::query(&sql), &filter.params).fetch(db.pool());
    while let Some(r) = rows.next().await {
        let row = row_to_record(&r?)?;
        if out.send(row).await.is_err() {
            break;
        }
    }
    Ok(())
}

fn list_filter(db: &Db, tenant: &str, list: &CompiledList, q: &ListQuery, viewer: &Viewer) -> Sql {
    let mut filter = Sql::new(db.dialect());
    filter
        .push(" from records where tenant_id = ")
        .bind_text(tenant)
        .push(" and form_key = ")
        .bind_text(&list.def.form)
        .push(" and ");
    viewer
        .scope
        .predicate(&mut filter, &viewer.user_id, &viewer.org_path);
    list.push_filters(q, &mut filter);
    filter
}

/// One form's part of an inbox: records of `form` in any of `states`, seen through `viewer`.
pub struct InboxPart {
    /// Form key.
    pub form: String,
    /// States in which the user holds a transition, each with the org rules of those
    /// transitions (None: any record in the user's scope).
    pub states: Vec<(String, Vec<form_runtime::workflow::InboxRule>)>,
    /// The user's view of this form.
    pub viewer: Viewer,
}

/// Records waiting for the user, oldest change first, with the total count.
pub async fn inbox(
    db: &Db,
    tenant: &str,
    parts: &[InboxPart],
    page_no: u32,
    page_size: u32,
) -> anyhow::Result<(Vec<RecordRow>, i64)> {
    if parts.iter().all(|p| p.states.is_empty()) {
        return Ok((Vec::new(), 0));
    }
    let mut filter = Sql::new(db.dialect());
    filter
        .push(" from records where tenant_id = ")
        .bind_text(tenant)
        .push(" and (");
    let mut first = true;
    for p in parts.iter().filter(|p| !p.states.is_empty()) {
        if !first {
            filter.push(" or ");
        }
        first = false;
        filter
            .push("(form_key = ")
            .bind_text(&p.form)
            .push(" and (");
        for (i, (state, rules)) in p.states.iter().enumerate() {
            if i > 0 {
                filter.push(" or ");
            }
            filter.push("(state = ").bind_text(state).push(" and (");
            for (j, rule) in rules.iter().enumerate() {
                if j > 0 {
                    filter.push(" or ");
                }
                filter.push("(");
                match &rule.org {
                    Some(r) => r.predicate(&mut filter, &p.viewer.org_path),
                    None => {
                        filter.push("1 = 1");
                    }
                }
                if let Some((action, member)) = &rule.unvoted {
                    // The member's vote since the record's last transition, as `votes` reads it.
                    filter
                        .push(" and not exists (select 1 from record_events v where v.tenant_id = records.tenant_id and v.record_id = records.record_id and v.kind = 'vote' and v.action = ")
                        .bind_text(action)
                        .push(" and v.changes = ")
                        .bind_text(serde_json::json!({ "vote": member }).to_string())
                        .push(" and v.seq > coalesce((select max(t.seq) from record_events t where t.tenant_id = records.tenant_id and t.record_id = records.record_id and t.kind = 'transition'), 0))");
                }
                if let Some((actions, waived)) =
                    rule.separate.as_ref().filter(|(a, _)| !a.is_empty())
                {
                    // Separation of duties: not a task of whoever fired an earlier action on
                    // the record, unless the record's unit is exempt.
                    filter.push(" and (not exists (select 1 from record_events s where s.tenant_id = records.tenant_id and s.record_id = records.record_id and s.kind = 'transition' and s.actor_id = ")
                        .bind_text(&p.viewer.user_id)
                        .push(" and s.action in (");
                    for (k, a) in actions.iter().enumerate() {
                        if k > 0 {
                            filter.push(", ");
                        }
                        filter.bind_text(a);
                    }
                    filter.push("))");
                    for w in waived {
                        let w = w
                            .replace('\\', "\\\\")
                            .replace('_', "\\_")
                            .replace('%', "\\%");
                        filter
                            .push(" or org_path like ")
                            .bind_text(format!("%/{w}/%"))
                            .push(" escape '\\'");
                    }
                    filter.push(")");
                }
                filter.push(")");
            }
            filter.push("))");
        }
        filter.push(") and ");
        p.viewer
            .scope
            .predicate(&mut filter, &p.viewer.user_id, &p.viewer.org_path);
        filter.push(")");
    }
    filter.push(")");
    page(
        db,
        &filter,
        "updated_at asc, record_id asc",
        page_no,
        page_size,
    )
    .await
}

/// Counts the rows `filter` (a `from … where …` clause) selects, and reads one page of them.
async fn page(
    db: &Db,
    filter: &Sql,
    order: &str,
    page: u32,
    page_size: u32,
) -> anyhow::Result<(Vec<RecordRow>, i64)> {
    let count = format!("select count(*) as n{}", filter.text);
    let total: i64 = bind_all(sqlx::query(&count), &filter.params)
        .fetch_one(db.pool())
        .await?
        .try_get("n")?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(page_size);
    let sql = format!(
        "select {}{} order by {order} limit {page_size} offset {offset}",
        columns(db.dialect()),
        filter.text
    );
    let rows = bind_all(sqlx::query(&sql), &filter.params)
        .fetch_all(db.pool())
        .await?;
    let records = rows
        .iter()
        .map(row_to_record)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((records, total))
}

/// The records of `form` among `ids` that the viewer may see (a page's references).
pub async fn fetch_many(
    db: &Db,
    tenant: &str,
    form: &str,
    ids: &[String],
    viewer: &Viewer,
) -> anyhow::Result<Vec<RecordRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.dialect());
    sql.push(&format!(
        "select {} from records where tenant_id = ",
        columns(db.dialect())
    ));
    sql.bind_text(tenant)
        .push(" and form_key = ")
        .bind_text(form)
        .push(" and record_id in (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind_text(id.clone());
    }
    sql.push(") and ");
    viewer
        .scope
        .predicate(&mut sql, &viewer.user_id, &viewer.org_path);
    let rows = bind_all(sqlx::query(&sql.text), &sql.params)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(row_to_record).collect()
}

/// Records of `form` in any of `states` that the viewer sees, at most `limit` (by id).
pub async fn in_states(
    db: &Db,
    tenant: &str,
    form: &str,
    states: &[String],
    viewer: &Viewer,
    limit: i64,
) -> anyhow::Result<Vec<RecordRow>> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(db.dialect());
    sql.push(&format!(
        "select {} from records where tenant_id = ",
        columns(db.dialect())
    ));
    sql.bind_text(tenant)
        .push(" and form_key = ")
        .bind_text(form)
        .push(" and state in (");
    for (i, s) in states.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind_text(s.clone());
    }
    sql.push(") and ");
    viewer
        .scope
        .predicate(&mut sql, &viewer.user_id, &viewer.org_path);
    sql.push(" order by record_id limit ")
        .bind(form_runtime::sql::SqlValue::Int(limit));
    let rows = bind_all(sqlx::query(&sql.text), &sql.params)
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(row_to_record).collect()
}

/// Whether another record of `form` (in one of `states`) has all the `(expression, value)`
/// pairs of `equal`, and — with `year` — the same year in `(expression, year)`. Runs in the
/// caller's transaction; on PostgreSQL it first takes a transaction lock on the values, so
/// two transactions checking the same values run one after the other.
#[allow(clippy::too_many_arguments)]
pub async fn duplicate_exists(
    tx: &mut Tx,
    tenant: &str,
    form: &str,
    exclude_id: &str,
    equal: &[(String, String)],
    states: &[String],
    year: Option<(String, String)>,
) -> anyhow::Result<bool> {
    if tx.dialect() == form_runtime::sql::Dialect::Postgres {
        use sha2::{Digest, Sha256};
        let key = serde_json::json!([tenant, form, equal, year]).to_string();
        let digest = Sha256::digest(key.as_bytes());
        let lock = i64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(lock)
            .execute(tx.conn())
            .await?;
    }
    let mut sql = Sql::new(tx.dialect());
    sql.push("select 1 as one from records where tenant_id = ")
        .bind_text(tenant)
        .push(" and form_key = ")
        .bind_text(form)
        .push(" and record_id <> ")
        .bind_text(exclude_id)
        .push(" and state in (");
    for (i, st) in states.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind_text(st.clone());
    }
    sql.push(")");
    for (expr, value) in equal {
        sql.push(&format!(" and {expr} = "))
            .bind_text(value.clone());
    }
    if let Some((expr, y)) = &year {
        sql.push(&format!(" and substr({expr}, 1, 4) = "))
            .bind_text(y.clone());
    }
    sql.push(" limit 1");
    // Unprepared on PostgreSQL, so that it plans for these values (see
    // imports::find_by_key); SQLite keeps the prepared statement, sparing a plan per submit.
    let postgres = tx.dialect() == form_runtime::sql::Dialect::Postgres;
    let row = bind_all(sqlx::query(&sql.text), &sql.params)
        .persistent(!postgres)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.is_some())
}

/// (kind, actor id) of a record's newest event: whether its owner acted last decides a recall.
pub async fn last_event(
    db: &Db,
    tenant: &str,
    record_id: &str,
) -> anyhow::Result<Option<(String, String)>> {
    let row = sqlx::query(
        "select kind, actor_id from record_events where tenant_id = $1 and record_id = $2 order by seq desc limit 1",
    )
    .bind(tenant)
    .bind(record_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row
        .map(|r| -> sqlx::Result<(String, String)> {
            Ok((r.try_get("kind")?, r.try_get("actor_id")?))
        })
        .transpose()?)
}

/// (from state, action, to state) of a record's newest transition: a return that unlocks
/// named fields rules edits until the next one.
pub async fn last_transition(
    db: &Db,
    tenant: &str,
    record_id: &str,
) -> anyhow::Result<Option<(String, String, String)>> {
    let row = sqlx::query(
        "select from_state, action, to_state from record_events \
         where tenant_id = $1 and record_id = $2 and kind = 'transition' order by seq desc limit 1",
    )
    .bind(tenant)
    .bind(record_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row
        .map(|r| -> sqlx::Result<(String, String, String)> {
            let text = |c: &str| {
                r.try_get::<Option<String>, _>(c)
                    .map(Option::unwrap_or_default)
            };
            Ok((text("from_state")?, text("action")?, text("to_state")?))
        })
        .transpose()?)
}

/// The next value of a tenant's numbering sequence for `period` ('' or a year).
///
/// `gapless`: taken in the caller's transaction, so a change that fails gives its number
/// back, and the counter's row stays locked until that change commits (every numbered change
/// of the sequence waits for the previous one). Otherwise, on PostgreSQL, the counter moves
/// in a statement of its own ([`Db::counters`]) that holds the row for microseconds: a
/// change that then fails leaves a gap. On SQLite both are the same, since its one writer
/// orders every change anyway.
pub async fn next_number(
    db: &Db,
    tx: &mut Tx,
    tenant: &str,
    name: &str,
    period: &str,
    gapless: bool,
) -> sqlx::Result<i64> {
    const TAKE: &str = "insert into sequences (tenant_id, name, period, value) values ($1, $2, $3, 1) \
         on conflict (tenant_id, name, period) do update set value = sequences.value + 1 returning value";
    let q = sqlx::query(TAKE).bind(tenant).bind(name).bind(period);
    let row = match db.counters() {
        Some(counters) if !gapless => q.fetch_one(counters).await?,
        _ => q.fetch_one(tx.conn()).await?,
    };
    row.try_get("value")
}

/// Whether `user` has fired any of `actions` on the record (separation of duties).
pub async fn fired_any(
    db: &Db,
    tenant: &str,
    record_id: &str,
    user: &str,
    actions: &[String],
) -> anyhow::Result<bool> {
    if actions.is_empty() {
        return Ok(false);
    }
    let mut q = Sql::new(db.dialect());
    q.push("select count(*) from record_events where tenant_id = ")
        .bind_text(tenant)
        .push(" and record_id = ")
        .bind_text(record_id)
        .push(" and kind = 'transition' and actor_id = ")
        .bind_text(user)
        .push(" and action in (");
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind_text(a);
    }
    q.push(")");
    let row = bind_all(sqlx::query(&q.text), &q.params)
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get::<i64, _>(0)? > 0)
}

/// Members who have voted on `action` since the record last changed state (countersign).
pub async fn votes(
    db: &Db,
    tenant: &str,
    record_id: &str,
    action: &str,
) -> anyhow::Result<Vec<String>> {
    let rows = sqlx::query(
        "select changes from record_events where tenant_id = $1 and record_id = $2 and kind = 'vote' and action = $3 \
         and seq > coalesce((select max(seq) from record_events where tenant_id = $1 and record_id = $2 and kind = 'transition'), 0) \
         order by seq",
    )
    .bind(tenant)
    .bind(record_id)
    .bind(action)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let changes: Option<String> = r.try_get("changes")?;
        if let Some(m) = changes
            .and_then(|c| serde_json::from_str::<Value>(&c).ok())
            .and_then(|v| v["vote"].as_str().map(str::to_string))
        {
            out.push(m);
        }
    }
    Ok(out)
}

/// Replaces a record's timer: none, or `action` due at `due_at` for `state`.
pub async fn set_timer(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    timer: Option<(&str, &str, &str)>,
) -> sqlx::Result<()> {
    sqlx::query("delete from timers where tenant_id = $1 and record_id = $2")
        .bind(tenant)
        .bind(record_id)
        .execute(tx.conn())
        .await?;
    add_timer(tx, tenant, record_id, timer).await
}

/// Sets the deadline of a record that has none yet (one just created); None sets nothing.
pub async fn add_timer(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    timer: Option<(&str, &str, &str)>,
) -> sqlx::Result<()> {
    if let Some((state, action, due_at)) = timer {
        sqlx::query("insert into timers (tenant_id, record_id, state, action, due_at) values ($1, $2, $3, $4, $5)")
            .bind(tenant)
            .bind(record_id)
            .bind(state)
            .bind(action)
            .bind(due_at)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// A timer that is due: (tenant, record, state, action).
pub type DueTimer = (String, String, String, String);

/// Timers due at `now` and not yet fired, oldest first.
pub async fn due_timers(db: &Db, now: &str, limit: i64) -> sqlx::Result<Vec<DueTimer>> {
    let rows = sqlx::query(
        "select tenant_id, record_id, state, action from timers where due_at <= $1 and fired_at is null order by due_at limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("tenant_id")?,
                r.try_get("record_id")?,
                r.try_get("state")?,
                r.try_get("action")?,
            ))
        })
        .collect()
}

/// Claims a due timer for firing, in the caller's transaction; false when another process
/// already has.
pub async fn claim_timer(
    tx: &mut Tx,
    tenant: &str,
    record_id: &str,
    state: &str,
    now: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query("update timers set fired_at = $4 where tenant_id = $1 and record_id = $2 and state = $3 and fired_at is null")
        .bind(tenant)
        .bind(record_id)
        .bind(state)
        .bind(now)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A record by id, whatever the scope (for the timer job, which acts as the system).
pub async fn fetch_any(tx: &mut Tx, tenant: &str, id: &str) -> anyhow::Result<Option<RecordRow>> {
    let sql = format!(
        "select {} from records where tenant_id = $1 and record_id = $2",
        columns(tx.dialect())
    );
    let row = sqlx::query(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(row_to_record).transpose()
}
