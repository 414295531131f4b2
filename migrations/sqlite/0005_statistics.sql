-- Statistics definitions (statistics/<key>.json of a pack), sqlite flavour. Keep in step with
-- the other dialect's 0005_statistics.sql. Like lists: one row per tenant and key, written
-- by a pack install; form_key is kept apart so "which statistics may this user read" is a
-- join on the form, not a parse of every definition.
create table statistics (
    tenant_id   text not null references tenants (tenant_id),
    stat_key    text not null,
    form_key    text not null,
    pack_id     text not null,
    definition  text not null,
    constraint statistics_pkey primary key (tenant_id, stat_key)
);
