-- A relinked account keeps its numbers; only whose they are changes. Its per-account-day
-- rows therefore move to the new person right here, and only the jobs that group them by
-- person (the ones downstream of activity_daily) recompute the days it was active, instead
-- of activity_daily rebuilding every account's days of that span from the sessions (0.4 s
-- of a 1 s relink of a member with a year of history).
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
    insert into app.pipeline_dirty_ranges (job, from_at, to_at)
    select j.job, i.from_at, i.to_at
    -- The jobs reading silver.activity_daily (the pipeline's tests check this list).
    from (values ('daily_active_users'), ('retention_cohorts'), ('discord_comparable'),
                 ('member_sources')) j (job)
    cross join silver.day_islands(
        array(select day from silver.activity_daily
              where account_kind = new.kind and account_id = new.external_id), tz) i;
    return new;
end
$$;
