-- The files of each installed pack, as installed: what the designer edits and what a
-- tenant's export zips. `revision` counts installs, so a designer publishing over a pack
-- that changed since it was opened is refused instead of overwriting the other change.
create table pack_files (
    tenant_id  text not null references tenants (tenant_id),
    pack_id    text not null,
    path       text not null,
    content    text not null,
    constraint pack_files_pkey primary key (tenant_id, pack_id, path)
);
alter table packs add column revision integer not null default 0;
