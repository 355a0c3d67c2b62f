-- Records the database refused (bad values, constraint violations), kept with their error
-- and source instead of being lost: an admin sees them, and they can be fixed and replayed.
create table bronze.rejected_records (
    rejected_id bigint generated always as identity primary key,
    source text not null,
    payload jsonb not null,
    error text not null,
    rejected_at timestamptz not null default now()
);
create index rejected_records_source_idx on bronze.rejected_records (source, rejected_at desc);
