-- discord_comparable: silver.activity_daily, silver.dim_members -> gold.discord_comparable_daily
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose activity or joins changed
--   guildhall.today                        the community's local today
--   guildhall.tz                           the community's IANA time zone
-- A changed day changes the weekly communicators of the 6 days after it, and the
-- activation and week-1 retention of the members who joined in the 13 days before it:
-- those days are recomputed too.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

with bounds as (
    select current_setting('guildhall.day_from')::date - 13 as d0,
           greatest(current_setting('guildhall.day_to')::date,
                    least(current_setting('guildhall.day_to')::date + 6,
                          current_setting('guildhall.today')::date)) as d1,
           current_setting('guildhall.today')::date as today
),
days as (
    select d::date as day from bounds b, generate_series(b.d0, b.d1, interval '1 day') d
    -- Only days since the community's first activity or join.
    where d::date >= least((select min(day) from silver.activity_daily),
                           (select (min(first_joined_at) at time zone current_setting('guildhall.tz'))::date
                            from silver.dim_members))
),
person_days as (
    select a.day, a.person_id, sum(a.voice_seconds) as voice, sum(a.messages) as messages
    from silver.activity_daily a, bounds b
    where a.day between b.d0 - 6 and b.d1 + 13
    group by a.day, a.person_id
),
communicating as (
    select day, person_id from person_days where messages >= 1 or voice > 0
),
newcomers as (
    select i.person_id,
           (min(m.first_joined_at) at time zone current_setting('guildhall.tz'))::date as joined
    from silver.dim_members m
    join silver.user_identities i
      on i.kind = 'discord' and i.external_id = m.discord_user_id::text
    where m.first_joined_at is not null
    group by i.person_id
),
in_range as (
    select n.* from newcomers n, bounds b where n.joined between b.d0 and b.d1
),
-- Joins, not correlated subqueries: the cost follows the rows in the range.
first_week as (
    select n.person_id, sum(p.messages) >= 3 or bool_or(p.voice > 0) as activated
    from in_range n
    join person_days p on p.person_id = n.person_id and p.day between n.joined and n.joined + 6
    group by n.person_id
),
second_week as (
    select distinct n.person_id
    from in_range n
    join communicating c
      on c.person_id = n.person_id and c.day between n.joined + 7 and n.joined + 13
),
joins as (
    select n.joined as day, count(*)::int as new_members,
           (count(*) filter (where f.activated))::int as activated,
           (count(*) filter (where s.person_id is not null))::int as retained
    from in_range n
    left join first_week f on f.person_id = n.person_id
    left join second_week s on s.person_id = n.person_id
    group by n.joined
),
daily as (
    select day, count(distinct person_id)::int as n from communicating group by day
),
-- Weekly communicators as in daily_active_users: each communicating day counts its person
-- for 7 days; a person's overlapping spans merge; a running sum of span starts and ends
-- gives the persons on each day.
day_gaps as (
    select person_id, day,
           day - lag(day) over (partition by person_id order by day) as gap
    from (select distinct person_id, day from communicating) c
),
spans as (
    select person_id, min(day) as first_day, max(day) + 6 as last_day
    from (
        select *, count(*) filter (where gap is null or gap > 7)
                      over (partition by person_id order by day) as span
        from day_gaps
    ) grouped
    group by person_id, span
),
edges as (
    select day, sum(delta) as delta
    from (select first_day as day, 1 as delta from spans
          union all
          select last_day + 1, -1 from spans) e
    group by day
),
weekly as (
    select c.day, (sum(coalesce(e.delta, 0)) over (order by c.day))::int as n
    from (select d::date as day
          from generate_series(least((select min(day) from edges), (select min(day) from days)),
                               (select max(day) from days), interval '1 day') d) c
    left join edges e on e.day = c.day
),
per_day as (
    select d.day,
           coalesce(daily.n, 0) as communicators,
           coalesce(weekly.n, 0) as communicators_week,
           coalesce(j.new_members, 0) as new_members,
           coalesce(j.activated, 0) as activated,
           coalesce(j.retained, 0) as retained,
           d.day + 13 < b.today as complete
    from days d
    cross join bounds b
    left join daily on daily.day = d.day
    left join weekly on weekly.day = d.day
    left join joins j on j.day = d.day
),
upserted as (
    insert into gold.discord_comparable_daily
        (day, communicators, communicators_week, new_members, activated, activation_rate,
         week1_retained, week1_retention, complete, computed_at)
    select day, communicators, communicators_week, new_members, activated,
           round(100.0 * activated / nullif(new_members, 0), 2),
           retained, round(100.0 * retained / nullif(new_members, 0), 2), complete, now()
    from per_day
    on conflict (day) do update
        set communicators = excluded.communicators,
            communicators_week = excluded.communicators_week,
            new_members = excluded.new_members,
            activated = excluded.activated,
            activation_rate = excluded.activation_rate,
            week1_retained = excluded.week1_retained,
            week1_retention = excluded.week1_retention,
            complete = excluded.complete,
            computed_at = excluded.computed_at
        where (gold.discord_comparable_daily.communicators,
               gold.discord_comparable_daily.communicators_week,
               gold.discord_comparable_daily.new_members, gold.discord_comparable_daily.activated,
               gold.discord_comparable_daily.week1_retained, gold.discord_comparable_daily.complete)
              is distinct from
              (excluded.communicators, excluded.communicators_week, excluded.new_members,
               excluded.activated, excluded.week1_retained, excluded.complete)
    returning 1
)
select (select count(*) from upserted)::bigint as rows, null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
