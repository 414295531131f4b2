-- Notifications and deliveries.
--
-- notifications: in-app messages (a user gained a task; a pack `notify` effect to the app).
-- outbox: messages for other systems, written in the transaction of the change that causes
--   them: SMS texts an external gateway claims and acknowledges, webhook calls the server
--   sends itself. A row is claimed with a lease (claimed_until); a failed attempt is retried
--   with growing delays until max attempts, then it is `dead`.
-- webhooks: HTTP targets per tenant, each with its own signing secret (sealed with the
--   tenant's data key).
-- record_documents: documents rendered by a transition's `document` effect, kept with the
--   record as they were printed.
-- batch_rules: batches/<key>.json of a pack, written by its install like statistics.
create table notifications (
    tenant_id        text not null references tenants (tenant_id),
    notification_id  text not null,
    user_id          text not null,
    kind             text not null,
    title            text not null,
    body             text not null,
    record_id        text,
    created_at       text not null,
    read_at          text,
    constraint notifications_pkey primary key (tenant_id, notification_id)
);
create index notifications_user_idx on notifications (tenant_id, user_id, created_at);

create table outbox (
    tenant_id        text not null references tenants (tenant_id),
    message_id       text not null,
    channel          text not null,
    target           text not null,
    payload          text not null,
    record_id        text,
    status           text not null,
    attempts         bigint not null default 0,
    next_attempt_at  text not null,
    claimed_until    text,
    last_error       text,
    created_at       text not null,
    sent_at          text,
    constraint outbox_pkey primary key (tenant_id, message_id)
);
-- The sender looks across tenants for what is due.
create index outbox_due_idx on outbox (channel, status, next_attempt_at);
create index outbox_tenant_idx on outbox (tenant_id, created_at);

create table webhooks (
    tenant_id    text not null references tenants (tenant_id),
    webhook_id   text not null,
    url          text not null,
    secret       text not null,
    events       text not null,
    forms        text not null,
    active       bigint not null default 1,
    created_at   text not null,
    constraint webhooks_pkey primary key (tenant_id, webhook_id)
);

create table record_documents (
    tenant_id     text not null references tenants (tenant_id),
    document_id   text not null,
    record_id     text not null,
    doc_key       text not null,
    label         text not null,
    action        text not null,
    html          text not null,
    sha256        text not null,
    created_by    text not null,
    created_at    text not null,
    constraint record_documents_pkey primary key (tenant_id, document_id)
);
create index record_documents_record_idx on record_documents (tenant_id, record_id, created_at);

create table batch_rules (
    tenant_id   text not null references tenants (tenant_id),
    rule_key    text not null,
    form_key    text not null,
    pack_id     text not null,
    definition  text not null,
    constraint batch_rules_pkey primary key (tenant_id, rule_key)
);
