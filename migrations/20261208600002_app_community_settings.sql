-- Community settings an admin makes in the console (/admin/privacy). A null column means
-- "as configured": the environment or guildhall.toml value (GUILDHALL_TIMEZONE,
-- GUILDHALL_PIPELINE__BRONZE_RETENTION_DAYS) applies until an admin sets one.
create table app.community_settings (
    only_row boolean primary key default true check (only_row),
    timezone text,
    bronze_retention_days integer check (bronze_retention_days between 0 and 36500),
    updated_by bigint references app.users (id) on delete set null,
    updated_at timestamptz not null default now()
);
comment on table app.community_settings is 'Community settings made in the admin console; a null column means the configured value applies.';
comment on column app.community_settings.timezone is 'IANA time zone of the community (all KPI days are local days in it); null: GUILDHALL_TIMEZONE.';
comment on column app.community_settings.bronze_retention_days is 'Days of raw (bronze) events kept once consumed, 0 keeps everything; null: GUILDHALL_PIPELINE__BRONZE_RETENTION_DAYS.';
