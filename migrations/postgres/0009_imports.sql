-- Imports from Excel workbooks.
--
-- import_templates: imports/<key>.json of a pack, written by its install like batch rules.
-- imports: one row per import request (dry runs too): the report shown to the importer and,
--   when rows were rejected, the error workbook (the rejected rows as they were, plus a
--   reason column), sealed with the tenant's data key because it may hold sensitive values
--   in clear. Only the importer reads it back.
create table import_templates (
    tenant_id     text not null references tenants (tenant_id),
    template_key  text not null,
    form_key      text not null,
    pack_id       text not null,
    definition    text not null,
    constraint import_templates_pkey primary key (tenant_id, template_key)
);

create table imports (
    tenant_id     text not null references tenants (tenant_id),
    import_id     text not null,
    form_key      text not null,
    template_key  text,
    user_id       text not null,
    mode          text not null,
    dry_run       bigint not null,
    imported      bigint not null,
    report        text not null,
    errors_xlsx   text,
    created_at    text not null,
    constraint imports_pkey primary key (tenant_id, import_id)
);
create index imports_user_idx on imports (tenant_id, user_id, created_at);
