-- member_growth: silver.dim_members, silver.activity_daily
--                -> gold.member_growth_weekly, gold.leaver_tenure
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose activity or memberships changed
--   guildhall.today                        the community's local today
--   guildhall.tz                           the community's IANA time zone
-- Weeks: joins, leaves and members at the end of each local week (Monday to Sunday), from
-- the week of the first join to the current one. A member is a Discord account per guild;
-- one who is gone counts as a leave in the week of their last leave. The weeks are one
-- pass over silver.dim_members (a row per member, not per event), so all of them are
-- counted again and only rows that changed are written.
-- Tenure: per local month of leaving, how long the leavers had stayed since their last
-- join (six buckets) and how many were active (as for daily active users) on any of the 30
-- days before they left. Activity on a changed day matters to leaves up to 30 days later:
-- the months from day_from to day_to + 30 are counted again.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

-- Weeks.
drop table if exists growth_weeks;

create temp table growth_weeks on commit drop as
with members as (
    select date_trunc('week', (first_joined_at at time zone current_setting('guildhall.tz'))::date)::date
               as join_week,
           case when not is_member
                then date_trunc('week', (left_at at time zone current_setting('guildhall.tz'))::date)::date
           end as leave_week
    from silver.dim_members
    where first_joined_at is not null
),
per_week as (
    select week, sum(joined)::int as joins, sum(left_)::int as leaves
    from (select join_week as week, 1 as joined, 0 as left_ from members
          union all
          select leave_week, 0, 1 from members where leave_week is not null) changes
    group by week
),
weeks as (
    select w::date as week
    from generate_series((select min(join_week) from members),
                         date_trunc('week', current_setting('guildhall.today')::date),
                         interval '1 week') w
)
-- A member who left was counted as joined in the same or an earlier week, so the running
-- difference is the members at the end of each week.
select w.week, coalesce(p.joins, 0) as joins, coalesce(p.leaves, 0) as leaves,
       (sum(coalesce(p.joins, 0) - coalesce(p.leaves, 0)) over (order by w.week))::int
           as members
from weeks w
left join per_week p using (week);

-- Tenure, for the months whose leavers' activity or membership may have changed.
drop table if exists tenure_months;

create temp table tenure_months on commit drop as
with bounds as (
    select date_trunc('month', current_setting('guildhall.day_from')::date)::date as month_from,
           date_trunc('month', least(current_setting('guildhall.day_to')::date + 30,
                                     current_setting('guildhall.today')::date))::date as month_to
),
leavers as (
    select i.person_id,
           (m.left_at at time zone current_setting('guildhall.tz'))::date as left_on,
           m.left_at - coalesce(m.last_joined_at, m.first_joined_at) as stayed
    from silver.dim_members m
    cross join bounds b
    left join silver.user_identities i
           on i.kind = 'discord' and i.external_id = m.discord_user_id::text
    where not m.is_member and m.left_at is not null
      and m.left_at >= b.month_from::timestamp at time zone current_setting('guildhall.tz')
      and m.left_at < (b.month_to + interval '1 month')::timestamp
                      at time zone current_setting('guildhall.tz')
)
select date_trunc('month', l.left_on)::date as left_month,
       case when stayed < interval '1 day' then 0
            when stayed < interval '7 days' then 1
            when stayed < interval '30 days' then 2
            when stayed < interval '90 days' then 3
            when stayed < interval '365 days' then 4
            else 5 end::smallint as bucket,
       count(*)::int as leavers,
       -- An active person-day (silver.is_active_person_day, as for daily active users: all
       -- the leaver's accounts) on any of the 30 days before they left, through the
       -- person's index.
       count(*) filter (where exists (
           select 1 from silver.activity_daily a
           where a.person_id = l.person_id
             and a.day between l.left_on - 30 and l.left_on
           group by a.day
           having silver.is_active_person_day(sum(a.voice_seconds), sum(a.messages),
                                              sum(a.game_seconds))))::int
           as active_before
from leavers l
group by 1, 2;

with stale_weeks as (
    delete from gold.member_growth_weekly g
    where not exists (select 1 from growth_weeks w where w.week = g.week_of)
    returning 1
),
upserted_weeks as (
    insert into gold.member_growth_weekly (week_of, joins, leaves, members, computed_at)
    select week, joins, leaves, members, now() from growth_weeks
    on conflict (week_of) do update
        set joins = excluded.joins,
            leaves = excluded.leaves,
            members = excluded.members,
            computed_at = excluded.computed_at
        -- Unchanged weeks stay untouched, so a second run changes nothing.
        where (gold.member_growth_weekly.joins, gold.member_growth_weekly.leaves,
               gold.member_growth_weekly.members)
              is distinct from (excluded.joins, excluded.leaves, excluded.members)
    returning 1
),
stale_tenure as (
    delete from gold.leaver_tenure g
    where g.left_month >= date_trunc('month', current_setting('guildhall.day_from')::date)::date
      and g.left_month <= date_trunc('month', least(current_setting('guildhall.day_to')::date + 30,
                                                    current_setting('guildhall.today')::date))::date
      and not exists (select 1 from tenure_months t
                      where t.left_month = g.left_month and t.bucket = g.bucket)
    returning 1
),
upserted_tenure as (
    insert into gold.leaver_tenure (left_month, bucket, leavers, active_before, computed_at)
    select left_month, bucket, leavers, active_before, now() from tenure_months
    on conflict (left_month, bucket) do update
        set leavers = excluded.leavers,
            active_before = excluded.active_before,
            computed_at = excluded.computed_at
        where (gold.leaver_tenure.leavers, gold.leaver_tenure.active_before)
              is distinct from (excluded.leavers, excluded.active_before)
    returning 1
)
select ((select count(*) from stale_weeks) + (select count(*) from upserted_weeks)
        + (select count(*) from stale_tenure) + (select count(*) from upserted_tenure))::bigint
           as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
