-- Deadlines of workflow states (a state's `timer`): one pending timer per record, for the
-- state it is in. Entering a state replaces the record's timer; the job that fires due
-- timers claims each with a conditional update (fired_at is null), in the same transaction
-- as the transition, so a timer fires exactly once however many servers run the job.
create table timers (
    tenant_id  text not null,
    record_id  text not null,
    state      text not null,
    action     text not null,
    due_at     text not null,
    fired_at   text,
    constraint timers_pkey primary key (tenant_id, record_id)
);
-- The job looks across tenants for what is due, so this index alone does not lead with
-- tenant_id.
create index timers_due_idx on timers (due_at);
