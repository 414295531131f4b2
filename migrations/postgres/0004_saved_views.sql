-- Saved views of lists, postgres flavour. Keep in step with sqlite/0004_saved_views.sql: the
-- same columns and constraint names, so the store's SQL is written once.
--
-- A saved view is one user's name for a list request: `query` is the query string as the
-- user sent it (`filter[requested_amount][gte]=5000&sort=-requested_amount`), checked
-- against the list when saved and parsed again on every use, so a view never bypasses the
-- list's rules or the user's scope. tenant_id leads every key, as everywhere: each lookup
-- is within one tenant, and a view id from another tenant can never match. The unique key
-- (tenant, user, list, name) keeps one name per user and list; the list's views of a user
-- are read through its prefix.
create table saved_views (
    tenant_id   text not null references tenants (tenant_id),
    view_id     text not null,
    user_id     text not null,
    list_key    text not null,
    name        text not null,
    query       text not null,
    created_at  text not null,
    constraint saved_views_pkey primary key (tenant_id, view_id),
    constraint saved_views_user_fkey foreign key (tenant_id, user_id) references users (tenant_id, user_id),
    constraint saved_views_name_key unique (tenant_id, user_id, list_key, name)
);
