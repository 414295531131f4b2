-- The zone a tenant's people read times in (IANA name). Times are stored in UTC; pages,
-- documents and exports show them in this zone, and now()/today() are evaluated in it.
alter table tenants add column time_zone text not null default 'Asia/Shanghai';
