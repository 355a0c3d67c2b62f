-- server_utilization: silver.fact_game_sessions, bronze.game_metric_samples
--                     -> silver.server_load, gold.server_utilization, gold.server_weekly_profile
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days to recompute, inclusive
--   guildhall.tz                           the community's IANA time zone
--   guildhall.now                          the current instant
--   guildhall.profile_weeks                weeks the weekday × hour profile covers
-- Load counts every human session, named accounts or not. Open sessions count up to the
-- last time their server was heard from. Every hour from a server's first data up to now
-- has a utilization row (0 when nobody played); minutes without players or samples have no
-- load row.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

drop table if exists load_range, load_minutes;

create temp table load_range on commit drop as
select current_setting('guildhall.day_from')::date::timestamp
           at time zone current_setting('guildhall.tz') as range_start,
       least((current_setting('guildhall.day_to')::date + 1)::timestamp
                 at time zone current_setting('guildhall.tz'),
             date_trunc('minute', current_setting('guildhall.now')::timestamptz) + interval '1 minute')
           as range_end;

-- 1. Sessions in the range, cut to it.
create temp table load_minutes on commit drop as
-- Found by their end (closed ones ending after the range starts, plus the open ones), so
-- the cost follows recent activity, not history.
with candidates as (
    select s.*
    from silver.fact_game_sessions s, load_range r
    where s.ended_at > r.range_start and s.started_at < r.range_end
    union all
    select s.*
    from silver.fact_game_sessions s, load_range r
    where s.ended_at is null and s.started_at < r.range_end
),
sessions as (
    select s.server_id,
           greatest(s.started_at, r.range_start) as started_at,
           least(coalesce(s.ended_at, h.heard_until, s.started_at), r.range_end) as ended_at
    from candidates s
    cross join load_range r
    left join silver.game_server_heard h on h.server_id = s.server_id
),
cut as (
    select * from sessions where ended_at > started_at
),
-- Each session's seconds in each minute it touches.
pieces as (
    select c.server_id, m.minute, c.started_at <= m.minute as present_at_start,
           extract(epoch from least(c.ended_at, m.minute + interval '1 minute')
                              - greatest(c.started_at, m.minute)) as seconds
    from cut c
    cross join lateral generate_series(date_trunc('minute', c.started_at),
                                       c.ended_at - interval '1 microsecond',
                                       interval '1 minute') as m (minute)
),
-- The players at once after each arrival or departure (departures first at one instant).
points as (
    select server_id, t, sum(delta) over (partition by server_id order by t, delta
                                          rows unbounded preceding) as level
    from (select server_id, started_at as t, 1 as delta from cut
          union all
          select server_id, ended_at, -1 from cut) p
),
peaks_within as (
    select server_id, date_trunc('minute', t) as minute, max(level) as level
    from points
    where t > date_trunc('minute', t)
    group by server_id, date_trunc('minute', t)
),
by_minute as (
    select server_id, minute,
           sum(seconds) / 60.0 as humans,
           count(*) filter (where present_at_start) as at_start
    from pieces
    group by server_id, minute
),
samples as (
    select m.server_id, date_trunc('minute', m.scraped_at) as minute, avg(m.tps) as tps
    from bronze.game_metric_samples m
    cross join load_range r
    where m.scraped_at >= r.range_start and m.scraped_at < r.range_end and m.tps is not null
    group by m.server_id, date_trunc('minute', m.scraped_at)
),
minutes as (
    select coalesce(b.server_id, s.server_id) as server_id,
           coalesce(b.minute, s.minute) as minute,
           coalesce(b.humans, 0) as humans,
           greatest(coalesce(b.at_start, 0), coalesce(p.level, 0)) as peak_humans,
           s.tps
    from by_minute b
    full join samples s on s.server_id = b.server_id and s.minute = b.minute
    left join peaks_within p on p.server_id = coalesce(b.server_id, s.server_id)
                            and p.minute = coalesce(b.minute, s.minute)
)
select m.server_id, m.minute, round(m.humans, 3) as humans, m.peak_humans::int as peak_humans,
       coalesce(g.capacity_override,
                (select nullif(sn.max_players, 0) from bronze.game_status_snapshots sn
                 where sn.server_id = m.server_id and sn.polled_at < m.minute + interval '1 minute'
                 order by sn.polled_at desc limit 1)) as capacity,
       m.tps
from minutes m
left join app.game_servers g on g.server_id = m.server_id;

-- 2. Replace the range's load rows.
with removed as (
    delete from silver.server_load l
    -- Bounds as scalar subqueries: known when the scan starts, so the index on minute
    -- serves them (a join with load_range would read every minute of history).
    where l.minute >= (select range_start from load_range)
      and l.minute < (select range_end from load_range)
      and not exists (select 1 from load_minutes m
                      where m.server_id = l.server_id and m.minute = l.minute)
    returning 1
),
upserted as (
    insert into silver.server_load (server_id, minute, humans, peak_humans, capacity, tps)
    select server_id, minute, humans, peak_humans, capacity, tps from load_minutes
    on conflict (server_id, minute) do update
        set humans = excluded.humans, peak_humans = excluded.peak_humans,
            capacity = excluded.capacity, tps = excluded.tps
        where (silver.server_load.humans, silver.server_load.peak_humans,
               silver.server_load.capacity, silver.server_load.tps)
              is distinct from (excluded.humans, excluded.peak_humans, excluded.capacity, excluded.tps)
    returning 1
)
select (select count(*) from removed) + (select count(*) from upserted);

-- 3. Hours: every hour of the range from the server's first data, 0 when nobody played.
drop table if exists load_hours;
create temp table load_hours on commit drop as
with servers as (
    select g.server_id, g.capacity_override,
           least((select min(polled_at) from bronze.game_status_snapshots s where s.server_id = g.server_id),
                 (select min(occurred_at) from bronze.game_log_events e where e.server_id = g.server_id),
                 (select min(started_at) from silver.fact_game_sessions f where f.server_id = g.server_id))
               as first_data
    from app.game_servers g
),
hours as (
    select s.server_id, s.capacity_override, h as hour
    from servers s
    cross join load_range r
    cross join lateral generate_series(
        date_trunc('hour', greatest(r.range_start, s.first_data)),
        r.range_end - interval '1 microsecond',
        interval '1 hour') h
    where s.first_data is not null and s.first_data < r.range_end
),
-- The minutes summed per hour first, then joined on equality: a join on a minute range
-- per hour becomes hours × minutes comparisons when one server has years of history.
loads as (
    select l.server_id, date_trunc('hour', l.minute) as hour, sum(l.humans) as humans,
           max(l.peak_humans) as peak_humans, max(l.capacity) as capacity
    from silver.server_load l
    where l.minute >= (select date_trunc('hour', range_start) from load_range)
      and l.minute < (select range_end from load_range)
    group by 1, 2
)
select h.server_id, h.hour,
       round(coalesce(l.humans, 0) / 60.0, 3) as avg_humans,
       coalesce(l.peak_humans, 0) as peak_humans,
       coalesce(h.capacity_override,
                l.capacity,
                (select nullif(sn.max_players, 0) from bronze.game_status_snapshots sn
                 where sn.server_id = h.server_id and sn.polled_at < h.hour + interval '1 hour'
                 order by sn.polled_at desc limit 1)) as capacity
from hours h
left join loads l on l.server_id = h.server_id and l.hour = h.hour;

drop table if exists load_changed;
create temp table load_changed on commit drop as
with removed as (
    delete from gold.server_utilization u
    where u.hour >= (select date_trunc('hour', range_start) from load_range)
      and u.hour < (select range_end from load_range)
      and not exists (select 1 from load_hours h where h.server_id = u.server_id and h.hour = u.hour)
    returning u.hour
),
upserted as (
    insert into gold.server_utilization (server_id, hour, avg_humans, peak_humans, capacity, utilization_pct)
    select server_id, hour, avg_humans, peak_humans, capacity,
           case when capacity > 0 then round(avg_humans * 100.0 / capacity, 2) end
    from load_hours
    on conflict (server_id, hour) do update
        set avg_humans = excluded.avg_humans, peak_humans = excluded.peak_humans,
            capacity = excluded.capacity, utilization_pct = excluded.utilization_pct
        where (gold.server_utilization.avg_humans, gold.server_utilization.peak_humans,
               gold.server_utilization.capacity, gold.server_utilization.utilization_pct)
              is distinct from (excluded.avg_humans, excluded.peak_humans, excluded.capacity,
                                excluded.utilization_pct)
    returning hour
)
select hour from removed union all select hour from upserted;

-- 4. The weekday × hour profile of the last weeks (whole hours up to now), recomputed.
delete from gold.server_weekly_profile;
insert into gold.server_weekly_profile
    (server_id, weekday, hour, avg_humans, peak_humans, utilization_pct, low_use, weeks)
select u.server_id,
       extract(isodow from u.hour at time zone current_setting('guildhall.tz'))::smallint,
       extract(hour from u.hour at time zone current_setting('guildhall.tz'))::smallint,
       round(avg(u.avg_humans), 3),
       max(u.peak_humans),
       case when max(u.capacity) > 0 then round(avg(u.avg_humans) * 100.0 / max(u.capacity), 2) end,
       case when max(u.capacity) > 0 then avg(u.avg_humans) < 0.1 * max(u.capacity)
            else avg(u.avg_humans) < 1 end,
       current_setting('guildhall.profile_weeks')::int
from gold.server_utilization u
where u.hour >= date_trunc('hour', current_setting('guildhall.now')::timestamptz)
                - current_setting('guildhall.profile_weeks')::int * interval '1 week'
  and u.hour < date_trunc('hour', current_setting('guildhall.now')::timestamptz)
group by 1, 2, 3;

select (select count(*) from load_changed)::bigint as rows,
       (select min(hour) from load_changed) as dirty_from,
       (select max(hour) + interval '1 hour' from load_changed) as dirty_to;
