-- daily_active_users: silver.fact_voice_sessions -> gold.daily_active_users
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days to recompute, inclusive
--   guildhall.tz                           the community's IANA time zone
-- Returns one row: (rows bigint, dirty_from timestamptz).

with days as (
    -- Local days and their bounds as instants (23 or 25 hours long on DST changes).
    select d::date as day,
           (d::date::timestamp at time zone current_setting('guildhall.tz')) as day_start,
           ((d::date + 1)::timestamp at time zone current_setting('guildhall.tz')) as day_end
    from generate_series(current_setting('guildhall.day_from')::date,
                         current_setting('guildhall.day_to')::date,
                         interval '1 day') d
),
-- Non-AFK voice time of each person on each day; a session crossing midnight counts on
-- both days. Open sessions count until the bot last observed their guild.
voice_time as (
    select d.day, s.person_id,
           sum(greatest(extract(epoch from
               least(coalesce(s.ended_at, g.observed_until, s.started_at), d.day_end)
               - greatest(s.started_at, d.day_start)), 0)) as seconds
    from days d
    join silver.fact_voice_sessions s
      on s.started_at < d.day_end
     and (s.ended_at is null or s.ended_at > d.day_start)
    left join app.discord_guilds g on g.guild_id = s.guild_id
    where not s.is_afk
    group by d.day, s.person_id
),
-- Active in voice: at least one minute that day.
voice_active as (
    select day, count(*) filter (where seconds >= 60) as persons
    from voice_time
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
