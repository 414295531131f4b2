-- Keys of sensitive fields (x-sensitive), PostgreSQL flavour. Keep in step with
-- sqlite/0003_tenant_keys.sql.
--
-- One row per tenant, created on first use: a data key (SM4-GCM) that encrypts the tenant's
-- sensitive values and a blind-index key (HMAC-SM3) for exact search. Both are stored only
-- wrapped: encrypted under the master key, which never enters the database, with the tenant
-- id as associated data so a row copied to another tenant does not open. tenant_id leads
-- the key, as everywhere. A row is written once and never updated (rotation is not yet
-- supported), so concurrent first uses insert with "on conflict do nothing" and read back.
create table tenant_keys (
    tenant_id   text not null references tenants (tenant_id),
    data_key    text not null,
    index_key   text not null,
    created_at  text not null,
    constraint tenant_keys_pkey primary key (tenant_id)
);
