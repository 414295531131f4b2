-- Audit entries are written by their change's transaction without a place in the chain;
-- a sealer chains them in `id` order shortly after they commit (store::audit::seal), so
-- writers no longer queue behind the tenant's head row. `seq`, `prev_hash` and `hash` stay
-- empty until the entry is sealed; a sealed entry never changes.
alter table audit_log add column id bigserial;
alter table audit_log drop constraint audit_log_pkey;
alter table audit_log alter column seq drop not null;
alter table audit_log alter column prev_hash drop not null;
alter table audit_log alter column hash drop not null;
alter table audit_log add constraint audit_log_pkey primary key (tenant_id, id);
create unique index audit_log_seq on audit_log (tenant_id, seq);
create index audit_log_unsealed on audit_log (tenant_id, id) where seq is null;
