-- Attachments, SQLite flavour. Keep in step with postgres/0002_attachments.sql: the same
-- columns and constraint names, so the store's SQL is written once.
--
-- A row describes one uploaded file; the bytes live in the server's storage (by default
-- DATA_DIR/attachments/<tenant>/…), found by (tenant_id, attachment_id). The row is written
-- only after the file is complete, so a row always has its file. `record_id` is null while
-- the file waits for the record it was uploaded for, and set in the record's own
-- transaction when the record is saved with the id in `field`; from then on whoever may
-- read the record may read the file. `sha256` (hex) is computed on upload and checked on
-- every download. Keys lead with tenant_id, as everywhere.
create table attachments (
    tenant_id      text not null references tenants (tenant_id),
    attachment_id  text not null,
    form_key       text not null,
    field          text not null,
    record_id      text,
    file_name      text not null,
    size           integer not null,
    content_type   text not null,
    sha256         text not null,
    uploaded_by    text not null,
    created_at     text not null,
    constraint attachments_pkey primary key (tenant_id, attachment_id),
    constraint attachments_record_fkey foreign key (tenant_id, record_id) references records (tenant_id, record_id),
    constraint attachments_uploader_fkey foreign key (tenant_id, uploaded_by) references users (tenant_id, user_id),
    constraint attachments_size_check check (size >= 0)
);
-- A record's files, for reading them with the record.
create index attachments_record_idx on attachments (tenant_id, record_id);
