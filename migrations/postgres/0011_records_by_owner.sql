-- The home page lists a user's own recent records: newest change first, per tenant.
create index if not exists records_owner_updated_idx on records (tenant_id, owner_id, updated_at);
