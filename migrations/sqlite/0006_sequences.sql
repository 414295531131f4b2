-- Numbering sequences for workflow effects (application numbers such as HZ-2026-000123).
-- One row per tenant, sequence name and period (the year, or '' for a sequence that never
-- restarts); a transition takes the next number inside its own transaction, so a failed
-- transition takes no number and two concurrent ones never get the same one.
create table sequences (
    tenant_id  text not null,
    name       text not null,
    period     text not null,
    value      bigint not null,
    constraint sequences_pkey primary key (tenant_id, name, period)
);
