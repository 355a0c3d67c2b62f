-- daily_active_users: silver.fact_voice_sessions -> gold.daily_active_users
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days to recompute, inclusive
--   guildhall.tz                           the community's IANA time zone
-- Returns one row: (rows bigint, dirty_from timestamptz).

with days as (
    select d::date as day
    from generate_series(current_setting('guildhall.day_from')::date,
                         current_setting('guildhall.day_to')::date,
                         interval '1 day') d
),
range as (
    -- The recomputed days as instants (local midnights; DST days have 23 or 25 hours).
    select current_setting('guildhall.day_from')::date::timestamp
               at time zone current_setting('guildhall.tz') as range_start,
           (current_setting('guildhall.day_to')::date + 1)::timestamp
               at time zone current_setting('guildhall.tz') as range_end
),
-- Non-AFK sessions touching the range. Open sessions count until the bot last observed
-- their guild. Sessions are found by their end (closed ones ending after the range starts,
-- plus the open ones), so the cost follows recent activity, not the length of history.
candidates as (
    select s.*
    from silver.fact_voice_sessions s, range r
    where s.ended_at > r.range_start and s.started_at < r.range_end
    union all
    select s.*
    from silver.fact_voice_sessions s, range r
    where s.ended_at is null and s.started_at < r.range_end
),
sessions as (
    select s.person_id,
           s.started_at,
           coalesce(s.ended_at, greatest(g.observed_until, s.started_at), s.started_at) as ended_at
    from candidates s
    left join app.discord_guilds g on g.guild_id = s.guild_id
    where not s.is_afk
),
-- Each session split at local midnights: one piece per day it touches, so a session
-- crossing midnight counts on both days.
pieces as (
    select p.day, s.person_id,
           greatest(extract(epoch from
               least(s.ended_at, (p.day + 1)::timestamp at time zone current_setting('guildhall.tz'))
               - greatest(s.started_at, p.day::timestamp at time zone current_setting('guildhall.tz'))), 0)
               as seconds
    from sessions s
    cross join lateral (
        -- Only the recomputed days: a session open for weeks adds no work per old day.
        select d::date as day
        from generate_series(greatest((s.started_at at time zone current_setting('guildhall.tz'))::date,
                                      current_setting('guildhall.day_from')::date),
                             least((s.ended_at at time zone current_setting('guildhall.tz'))::date,
                                   current_setting('guildhall.day_to')::date),
                             interval '1 day') d
    ) p
),
-- Active in voice: at least one minute that day.
voice_active as (
    select day, count(*) as persons
    from (
        select day, person_id
        from pieces
        group by day, person_id
        having sum(seconds) >= 60
    ) active
    group by day
),
upserted as (
    insert into gold.daily_active_users (day, dau_total, dau_voice, computed_at)
    select d.day, coalesce(v.persons, 0), coalesce(v.persons, 0), now()
    from days d
    left join voice_active v on v.day = d.day
    on conflict (day) do update
        set dau_total = excluded.dau_total,
            dau_voice = excluded.dau_voice,
            computed_at = excluded.computed_at
        -- Unchanged days keep their row untouched, so a second run changes nothing.
        where (gold.daily_active_users.dau_total, gold.daily_active_users.dau_voice)
              is distinct from (excluded.dau_total, excluded.dau_voice)
    returning 1
)
select (select count(*) from upserted)::bigint as rows, null::timestamptz as dirty_from;
