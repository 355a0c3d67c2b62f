-- What each pipeline job must recompute: any number of spans of time, instead of one
-- "from" instant. A relinked account dirties only the days it was active; a setting change
-- dirties the span it applies to. The runner takes every request of a job in the run that
-- handles it (under the job's lock), merges them into day ranges and deletes them.
create table app.pipeline_dirty_ranges (
    id bigint generated always as identity primary key,
    job text not null,
    from_at timestamptz not null,
    to_at timestamptz not null default 'infinity',
    requested_at timestamptz not null default now(),
    check (to_at > from_at)
);
create index pipeline_dirty_ranges_job_idx on app.pipeline_dirty_ranges (job);
comment on table app.pipeline_dirty_ranges is
    'Spans [from_at, to_at) a pipeline job must recompute at its next run.';

insert into app.pipeline_dirty_ranges (job, from_at)
select job, dirty_from from app.pipeline_state where dirty_from is not null;
alter table app.pipeline_state drop column dirty_from;

drop function app.request_recompute(text, timestamptz);
-- Asks the pipeline to recompute a job's output for [from_instant, to_instant) at its next
-- run (to the end of time by default); a null instant asks for nothing.
create function app.request_recompute(
    job_name text,
    from_instant timestamptz,
    to_instant timestamptz default 'infinity'
) returns void
language sql
as $$
    insert into app.pipeline_dirty_ranges (job, from_at, to_at)
    select job_name, from_instant, coalesce(to_instant, 'infinity')
    where from_instant is not null and coalesce(to_instant, 'infinity') > from_instant;
$$;
comment on function app.request_recompute(text, timestamptz, timestamptz) is
    'Marks a pipeline job to recompute its output for [from, to) at its next run.';

-- A relinked account (its person changed) changes the per-person-day rows of exactly the
-- days it was active: those days are recomputed, and nothing else.
create function silver.user_identity_relinked() returns trigger
language plpgsql
as $$
declare
    tz text := coalesce(
        (select timezone from app.pipeline_state where job = 'activity_daily'), 'UTC');
begin
    insert into app.pipeline_dirty_ranges (job, from_at, to_at)
    select 'activity_daily',
           island_start::timestamp at time zone tz,
           (island_end + 1)::timestamp at time zone tz
    from (
        -- Consecutive active days make one range.
        select min(day) as island_start, max(day) as island_end
        from (
            select day, day - (row_number() over (order by day))::int as island
            from silver.activity_daily
            where account_kind = new.kind and account_id = new.external_id
        ) days
        group by island
    ) islands;
    return new;
end
$$;
create trigger user_identities_relinked
    after update of person_id on silver.user_identities
    for each row when (old.person_id is distinct from new.person_id)
    execute function silver.user_identity_relinked();

-- Bronze retention: how far back each bronze table is complete. Rows older than the
-- horizon were deleted once the pipeline had consumed them; recomputes never start
-- before it (sessions that began earlier are kept as they are).
create table app.bronze_retention (
    table_name text primary key,
    retained_from timestamptz not null,
    deleted_rows bigint not null default 0,
    ran_at timestamptz not null default now()
);
comment on table app.bronze_retention is
    'Per bronze table: the instant from which it still holds every row (older ones were deleted by retention).';

-- The first AFK observation of a guild stands for all time before it: its sessions' AFK
-- flags are evaluated again for all of history (silver, not bronze, which retention thins).
create or replace function bronze.discord_afk_channel_changed() returns trigger
language plpgsql
as $$
begin
    perform app.request_recompute('voice_sessions',
        case
            when not exists (select 1 from bronze.discord_afk_channel_changes c
                             where c.guild_id = new.guild_id and c.change_id <> new.change_id)
                then '-infinity'::timestamptz
            else new.observed_at
        end);
    return new;
end
$$;
