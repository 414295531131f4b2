-- Formwork's first schema, SQLite flavour. Keep in step with postgres/0001_init.sql: the
-- same tables, columns and constraint names, so store code differs only where the dialect
-- module says.
--
-- Every primary key and index leads with tenant_id: a tenant's rows are one index range,
-- a query without a tenant cannot use an index, and the schema can later be distributed by
-- tenant. Timestamps are ISO 8601 UTC text ("2026-11-25T15:32:44.123456Z"), which sorts in
-- time order in both databases.

create table tenants (
    tenant_id   text not null,
    name        text not null,
    created_at  text not null,
    constraint tenants_pkey primary key (tenant_id)
);

-- Org units form a tree per tenant; `path` is the materialised path of unit codes
-- ("/shrc/pudong/"), so "this unit and below" is one range test on an index.
create table org_units (
    tenant_id   text not null references tenants (tenant_id),
    unit_id     text not null,
    parent_id   text,
    name        text not null,
    path        text not null,
    created_at  text not null,
    constraint org_units_pkey primary key (tenant_id, unit_id),
    constraint org_units_path_key unique (tenant_id, path)
);

create table users (
    tenant_id      text not null references tenants (tenant_id),
    user_id        text not null,
    username       text not null,
    display_name   text not null,
    password_hash  text not null,
    unit_id        text not null,
    locked         integer not null default 0,
    failed_logins  integer not null default 0,
    created_at     text not null,
    constraint users_pkey primary key (tenant_id, user_id),
    constraint users_username_key unique (tenant_id, username),
    constraint users_unit_fkey foreign key (tenant_id, unit_id) references org_units (tenant_id, unit_id)
);

-- Only a hash of the token is stored: a leaked table does not leak sessions.
create table sessions (
    tenant_id   text not null,
    token_hash  text not null,
    user_id     text not null,
    created_at  text not null,
    expires_at  text not null,
    constraint sessions_pkey primary key (tenant_id, token_hash),
    constraint sessions_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, user_id)
);

-- Casbin's policy lines, per tenant (the tenant is also the Casbin domain). `source` says
-- who wrote a line: a pack id, 'system' for built-in roles, 'admin' for user-role grants.
create table casbin_rule (
    tenant_id  text not null references tenants (tenant_id),
    ptype      text not null,
    v0         text not null,
    v1         text not null,
    v2         text not null default '',
    v3         text not null default '',
    source     text not null,
    constraint casbin_rule_pkey primary key (tenant_id, ptype, v0, v1, v2, v3)
);

create table roles (
    tenant_id  text not null references tenants (tenant_id),
    role_key   text not null,
    label      text not null,
    scope      text not null,
    source     text not null,
    constraint roles_pkey primary key (tenant_id, role_key)
);

create table packs (
    tenant_id     text not null references tenants (tenant_id),
    pack_id       text not null,
    version       text not null,
    name          text not null,
    installed_at  text not null,
    constraint packs_pkey primary key (tenant_id, pack_id)
);

-- Published form versions are immutable; a record keeps the version it was written with.
-- `definition` holds the schema and a snapshot of the workflow it runs under.
create table forms (
    tenant_id     text not null references tenants (tenant_id),
    form_key      text not null,
    version       integer not null,
    pack_id       text not null,
    title         text not null,
    definition    text not null,
    published_at  text not null,
    constraint forms_pkey primary key (tenant_id, form_key, version)
);

create table lists (
    tenant_id   text not null references tenants (tenant_id),
    list_key    text not null,
    form_key    text not null,
    pack_id     text not null,
    definition  text not null,
    constraint lists_pkey primary key (tenant_id, list_key)
);

-- One filled form. `state` changes only through a workflow transition; `row_version`
-- increases on every change and guards against lost updates.
create table records (
    tenant_id     text not null references tenants (tenant_id),
    record_id     text not null,
    form_key      text not null,
    form_version  integer not null,
    state         text not null,
    data          text not null check (json_valid(data)),
    owner_id      text not null,
    org_path      text not null,
    row_version   integer not null,
    created_at    text not null,
    updated_at    text not null,
    constraint records_pkey primary key (tenant_id, record_id)
);
-- Lists and inboxes always filter by tenant, form and the viewer's scope, and sort. The
-- scope column (org_path) trails each index so the scope is checked inside the index scan:
-- a district's newest page reads ~50 index entries instead of sorting the whole district.
-- A separate (tenant_id, form_key, org_path) index would lure the planner into exactly
-- that sort. Pack installs add expression indexes per list filter in the same shape.
create index records_form_created_idx on records (tenant_id, form_key, created_at, record_id, org_path);
create index records_form_state_idx on records (tenant_id, form_key, state, updated_at, org_path);

-- Every create, edit and transition of a record: who, when, from, to, comment, changes.
create table record_events (
    tenant_id   text not null,
    record_id   text not null,
    seq         integer not null,
    kind        text not null,
    action      text,
    from_state  text,
    to_state    text,
    actor_id    text not null,
    comment     text,
    changes     text,
    created_at  text not null,
    constraint record_events_pkey primary key (tenant_id, record_id, seq),
    constraint record_events_record_fkey foreign key (tenant_id, record_id) references records (tenant_id, record_id)
);

-- Append-only; each entry's hash is SM3(previous hash, entry), so a removed or edited entry
-- breaks the chain. audit_heads holds the last link per tenant and serialises appends.
create table audit_log (
    tenant_id   text not null,
    seq         integer not null,
    actor_id    text,
    action      text not null,
    object      text not null,
    detail      text not null,
    created_at  text not null,
    prev_hash   text not null,
    hash        text not null,
    constraint audit_log_pkey primary key (tenant_id, seq)
);

create table audit_heads (
    tenant_id  text not null,
    seq        integer not null,
    hash       text not null,
    constraint audit_heads_pkey primary key (tenant_id)
);
