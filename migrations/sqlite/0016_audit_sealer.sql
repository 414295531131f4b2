-- Audit entries are written by their change's transaction without a place in the chain;
-- a sealer chains them in `id` order shortly after they commit (store::audit::seal), so
-- writers no longer queue behind the tenant's head row. `seq`, `prev_hash` and `hash` stay
-- empty until the entry is sealed; a sealed entry never changes.
create table audit_log_sealed (
    id          integer primary key,
    tenant_id   text not null,
    seq         integer,
    actor_id    text,
    action      text not null,
    object      text not null,
    detail      text not null,
    created_at  text not null,
    prev_hash   text,
    hash        text
);
insert into audit_log_sealed (tenant_id, seq, actor_id, action, object, detail, created_at, prev_hash, hash)
select tenant_id, seq, actor_id, action, object, detail, created_at, prev_hash, hash
from audit_log order by tenant_id, seq;
drop table audit_log;
alter table audit_log_sealed rename to audit_log;
create unique index audit_log_seq on audit_log (tenant_id, seq);
create index audit_log_unsealed on audit_log (tenant_id, id) where seq is null;
create index audit_log_by_tenant on audit_log (tenant_id, id);
