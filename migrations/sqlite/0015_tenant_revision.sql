-- What every server caches of a tenant (grants, policies, published forms, lists, roles,
-- role holders, webhooks) has one revision. A change to any of them raises it in the
-- change's own transaction; a server whose copy is older reloads the tenant before it
-- answers (see docs/operations.md, "Several servers").
alter table tenants add column revision integer not null default 0;
