-- Triggers and settings mark the tables whose rows changed, never a pipeline job: the job
-- graph in server/src/pipeline decides which jobs read a table and recompute (a job added
-- later follows without a migration naming it). The runner hands each mark to every job
-- that reads the table before it runs any job.
create table app.pipeline_dirty_tables (
    id bigint generated always as identity primary key,
    table_name text not null,
    from_at timestamptz not null,
    to_at timestamptz not null default 'infinity',
    requested_at timestamptz not null default now(),
    check (to_at > from_at)
);
comment on table app.pipeline_dirty_tables is
    'Spans [from_at, to_at) of a table whose rows changed outside the pipeline; the jobs that read the table recompute them at their next run.';

-- Marks [from_instant, to_instant) of a table as changed (to the end of time by default; a
-- null instant marks nothing).
create function app.mark_dirty(
    p_table text,
    from_instant timestamptz,
    to_instant timestamptz default 'infinity'
) returns void
language sql
as $$
    insert into app.pipeline_dirty_tables (table_name, from_at, to_at)
    select p_table, from_instant, coalesce(to_instant, 'infinity')
    where from_instant is not null and coalesce(to_instant, 'infinity') > from_instant;
$$;
comment on function app.mark_dirty(text, timestamptz, timestamptz) is
    'Marks a span of a table as changed: every pipeline job reading the table recomputes it at its next run.';

-- The current definition: a relinked account's per-account-day rows move to the new person
-- here, and the days it was active are marked on silver.activity_daily.
create or replace function silver.user_identity_relinked() returns trigger
language plpgsql
as $$
declare
    tz text := coalesce(
        (select timezone from app.pipeline_state where job = 'activity_daily'), 'UTC');
begin
    -- A running activity_daily job read the identities before this change and would write
    -- the old person back: wait for it (it holds this row while it runs).
    perform 1 from app.pipeline_state where job = 'activity_daily' for update;
    update silver.activity_daily set person_id = new.person_id
    where account_kind = new.kind and account_id = new.external_id
      and person_id is distinct from new.person_id;
    insert into app.pipeline_dirty_tables (table_name, from_at, to_at)
    select 'silver.activity_daily', i.from_at, i.to_at
    from silver.day_islands(
        array(select day from silver.activity_daily
              where account_kind = new.kind and account_id = new.external_id), tz) i;
    return new;
end
$$;

-- The current definition: a new AFK observation changes the AFK periods from its moment on
-- (the first observation of a guild stands for all time before it).
create or replace function bronze.discord_afk_channel_changed() returns trigger
language plpgsql
as $$
begin
    perform app.mark_dirty('silver.afk_channel_periods',
        case
            when not exists (select 1 from bronze.discord_afk_channel_changes c
                             where c.guild_id = new.guild_id and c.change_id <> new.change_id)
                then '-infinity'::timestamptz
            else new.observed_at
        end);
    return new;
end
$$;
