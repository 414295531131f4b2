-- Dashboards (dashboards/<key>.json of a pack), sqlite flavour. Keep in step with the other
-- dialect's 0013_dashboards.sql. One row per tenant and key, written by a pack install, read
-- through the same definition table code as statistics; a dashboard spans statistics, so
-- form_key stays empty.
create table dashboards (
    tenant_id     text not null references tenants (tenant_id),
    dashboard_key text not null,
    form_key      text not null,
    pack_id       text not null,
    definition    text not null,
    constraint dashboards_pkey primary key (tenant_id, dashboard_key)
);
