-- daily_active_users: silver.activity_daily -> gold.daily_active_users
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose activity changed, inclusive
--   guildhall.today                        the community's local today
-- WAU and MAU look back 7 and 30 days, so a changed day changes the 29 days after it too:
-- those are recomputed up to today.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

with bounds as (
    select current_setting('guildhall.day_from')::date as day_from,
           greatest(current_setting('guildhall.day_to')::date,
                    least(current_setting('guildhall.day_to')::date + 29,
                          current_setting('guildhall.today')::date)) as day_to
),
-- Every day has a row, 0 when nobody was active: the days between the last day computed
-- before the range and the range (no dirty range covered them) are filled in as well. One
-- index lookup finds them, whatever the length of the history.
gap_days as (
    select d::date as day
    from bounds b,
         generate_series((select max(day) + 1 from gold.daily_active_users
                          where day < b.day_from),
                         b.day_from - 1,
                         interval '1 day') d
),
days as (
    select d::date as day
    from bounds b, generate_series(b.day_from, b.day_to, interval '1 day') d
    union all
    select day from gap_days
),
-- Persons, not accounts: a member's accounts add up before the thresholds apply. Read by
-- day through the index (the days and the 29 before them): the cost follows the days
-- recomputed, not the history.
persons as (
    select a.day, a.person_id,
           sum(a.voice_seconds) as voice_seconds,
           sum(a.messages) as messages,
           sum(a.game_seconds) as game_seconds
    from silver.activity_daily a
    where a.day between (select min(day) from days) - 29 and (select max(day) from days)
    group by a.day, a.person_id
),
-- Active person-days (silver.is_active_person_day: at least one minute of non-AFK voice,
-- one message or one minute on a game server), and in which sources.
active as (
    select day, person_id,
           silver.is_active_in_voice(voice_seconds) as voice,
           silver.is_active_in_chat(messages) as chat,
           silver.is_active_in_game(game_seconds) as game
    from persons
    where silver.is_active_person_day(voice_seconds, messages, game_seconds)
),
dau as (
    select day,
           count(*) as total,
           count(*) filter (where voice) as voice,
           count(*) filter (where chat) as chat,
           count(*) filter (where game) as game
    from active
    group by day
),
-- WAU and MAU without a join of every day with its window: each active day keeps its
-- person counted for the next 7 (30) days; a person's overlapping spans merge into one, so
-- the persons counted on a day are the spans covering it, found by a running sum of span
-- starts (+1) and ends (-1).
day_gaps as (
    select person_id, day, n,
           day - lag(day) over (partition by person_id, n order by day) as gap
    from (select distinct person_id, day from active) a
    cross join (values (7), (30)) as windows (n)
),
spans as (
    select person_id, n, min(day) as first_day, max(day) + n - 1 as last_day
    from (
        select *, count(*) filter (where gap is null or gap > n)
                      over (partition by person_id, n order by day) as span
        from day_gaps
    ) grouped
    group by person_id, n, span
),
edges as (
    select n, first_day as day, 1 as delta from spans
    union all
    select n, last_day + 1, -1 from spans
),
calendar as (
    select d::date as day
    from generate_series(least((select min(day) from edges), (select min(day) from days)),
                         (select max(day) from days), interval '1 day') d
),
counted as (
    select c.day, w.n,
           sum(coalesce(e.delta, 0)) over (partition by w.n order by c.day) as persons
    from calendar c
    cross join (values (7), (30)) as w (n)
    left join (select n, day, sum(delta) as delta from edges group by n, day) e
      on e.n = w.n and e.day = c.day
),
per_day as (
    select d.day,
           coalesce(dau.total, 0) as total,
           coalesce(dau.voice, 0) as voice,
           coalesce(dau.chat, 0) as chat,
           coalesce(dau.game, 0) as game,
           coalesce((select persons from counted c where c.day = d.day and c.n = 7), 0) as wau,
           coalesce((select persons from counted c where c.day = d.day and c.n = 30), 0) as mau
    from days d
    left join dau on dau.day = d.day
),
upserted as (
    insert into gold.daily_active_users
        (day, dau_total, dau_voice, dau_chat, dau_game, wau, mau, stickiness, computed_at)
    select day, total, voice, chat, game, wau, mau,
           case when mau > 0 then round(total::numeric / mau, 4) end, now()
    from per_day
    on conflict (day) do update
        set dau_total = excluded.dau_total,
            dau_voice = excluded.dau_voice,
            dau_chat = excluded.dau_chat,
            dau_game = excluded.dau_game,
            wau = excluded.wau,
            mau = excluded.mau,
            stickiness = excluded.stickiness,
            computed_at = excluded.computed_at
        -- Unchanged days keep their row untouched, so a second run changes nothing.
        where (gold.daily_active_users.dau_total, gold.daily_active_users.dau_voice,
               gold.daily_active_users.dau_chat, gold.daily_active_users.dau_game,
               gold.daily_active_users.wau, gold.daily_active_users.mau)
              is distinct from (excluded.dau_total, excluded.dau_voice, excluded.dau_chat,
                                excluded.dau_game, excluded.wau, excluded.mau)
    returning 1
)
select (select count(*) from upserted)::bigint as rows, null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
