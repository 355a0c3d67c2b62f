-- daily_active_users: silver.activity_daily -> gold.daily_active_users
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days to recompute, inclusive
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

-- Every day has a row, 0 when nobody was active: the days between the last day computed
-- before the range and the range (no dirty range covered them) are filled in as well. One
-- index lookup finds them, whatever the length of the history.
with gap_days as (
    select d::date as day
    from generate_series((select max(day) + 1 from gold.daily_active_users
                          where day < current_setting('guildhall.day_from')::date),
                         current_setting('guildhall.day_from')::date - 1,
                         interval '1 day') d
),
days as (
    select d::date as day
    from generate_series(current_setting('guildhall.day_from')::date,
                         current_setting('guildhall.day_to')::date,
                         interval '1 day') d
    union all
    select day from gap_days
),
-- Persons, not accounts: a member's accounts add up before the thresholds apply. Read by
-- day through the index: the cost follows the days recomputed, not the history.
persons as (
    select a.day, a.person_id,
           sum(a.voice_seconds) as voice_seconds,
           sum(a.messages) as messages,
           sum(a.game_seconds) as game_seconds
    from silver.activity_daily a
    where a.day between current_setting('guildhall.day_from')::date
                    and current_setting('guildhall.day_to')::date
       or a.day = any (array(select day from gap_days))
    group by a.day, a.person_id
),
-- Active: at least one minute of non-AFK voice, one message or one minute on a game server.
per_day as (
    select day,
           count(*) filter (where voice_seconds >= 60 or messages >= 1 or game_seconds >= 60)
               as total,
           count(*) filter (where voice_seconds >= 60) as voice,
           count(*) filter (where messages >= 1) as chat
    from persons
    group by day
),
upserted as (
    insert into gold.daily_active_users (day, dau_total, dau_voice, dau_chat, computed_at)
    select d.day, coalesce(p.total, 0), coalesce(p.voice, 0), coalesce(p.chat, 0), now()
    from days d
    left join per_day p on p.day = d.day
    on conflict (day) do update
        set dau_total = excluded.dau_total,
            dau_voice = excluded.dau_voice,
            dau_chat = excluded.dau_chat,
            computed_at = excluded.computed_at
        -- Unchanged days keep their row untouched, so a second run changes nothing.
        where (gold.daily_active_users.dau_total, gold.daily_active_users.dau_voice,
               gold.daily_active_users.dau_chat)
              is distinct from (excluded.dau_total, excluded.dau_voice, excluded.dau_chat)
    returning 1
)
select (select count(*) from upserted)::bigint as rows, null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
