-- Export templates (exports/<key>.json of a pack, written by its install like statistics)
-- and export jobs: large exports run in the background, with progress a user can watch and
-- cancel; the finished file is kept under DATA_DIR/exports until expires_at. A job belongs
-- to the server process that runs it (heartbeat_at); a job whose server stopped beating is
-- marked failed by any server.
create table export_templates (
    tenant_id    text not null references tenants (tenant_id),
    template_key text not null,
    form_key     text not null,
    pack_id      text not null,
    definition   text not null,
    constraint export_templates_pkey primary key (tenant_id, template_key)
);

create table export_jobs (
    tenant_id     text not null references tenants (tenant_id),
    job_id        text not null,
    user_id       text not null,
    list_key      text not null,
    format        text not null,
    query         text not null,
    status        text not null,
    rows_total    bigint not null default 0,
    rows_done     bigint not null default 0,
    file_name     text,
    file_size     bigint,
    error         text,
    created_at    text not null,
    heartbeat_at  text not null,
    finished_at   text,
    expires_at    text,
    constraint export_jobs_pkey primary key (tenant_id, job_id)
);
create index export_jobs_user_idx on export_jobs (tenant_id, user_id, created_at);

-- A user's own column choices for a list (自定义导出模版), usable as `template=mine:<id>`.
create table personal_export_templates (
    tenant_id    text not null references tenants (tenant_id),
    template_id  text not null,
    user_id      text not null,
    list_key     text not null,
    name         text not null,
    columns      text not null,
    created_at   text not null,
    constraint personal_export_templates_pkey primary key (tenant_id, template_id),
    constraint personal_export_templates_name_key unique (tenant_id, user_id, list_key, name)
);
