-- member_sources: silver.dim_members, silver.activity_daily
--                 -> gold.member_sources, gold.member_source_retention
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose activity or joins changed
--   guildhall.today                        the community's local today
--   guildhall.tz                           the community's IANA time zone
-- A person's source is that of their first join of a tracked guild (invite code and
-- inviter, or unknown); their group is (join month, source, code). Groups holding a person
-- active on a changed day, and every group of a changed join month or later, are counted
-- again: joined, young accounts, still members, active on a day at least 1, 7 and 30 days
-- after the join day, and retention as in gold.retention_cohorts (the cells of the months
-- from the first changed one on).
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

drop table if exists source_persons;

create temp table source_persons on commit drop as
with first_membership as (
    select distinct on (i.person_id)
           i.person_id, m.first_joined_at, m.join_source, coalesce(m.invite_code, '') as code,
           m.inviter_id, m.young_account
    from silver.dim_members m
    join silver.user_identities i
      on i.kind = 'discord' and i.external_id = m.discord_user_id::text
    where m.first_joined_at is not null
    order by i.person_id, m.first_joined_at, m.guild_id
),
still as (
    select i.person_id, bool_or(m.is_member) as still_member
    from silver.dim_members m
    join silver.user_identities i
      on i.kind = 'discord' and i.external_id = m.discord_user_id::text
    group by i.person_id
)
select f.person_id,
       date_trunc('month', f.first_joined_at at time zone current_setting('guildhall.tz'))::date
           as join_month,
       (f.first_joined_at at time zone current_setting('guildhall.tz'))::date as join_day,
       f.join_source as source, f.code, f.inviter_id, f.young_account,
       coalesce(s.still_member, false) as still_member
from first_membership f
left join still s using (person_id);

drop table if exists source_groups;

create temp table source_groups on commit drop as
with bounds as (
    select current_setting('guildhall.day_from')::date as d0,
           current_setting('guildhall.day_to')::date as d1,
           date_trunc('month', current_setting('guildhall.day_from')::date)::date as month_from
),
active_persons as (
    select distinct a.person_id
    from silver.activity_daily a, bounds b
    where a.day between b.d0 and b.d1
)
select distinct p.join_month, p.source, p.code
from source_persons p, bounds b
where p.join_month >= b.month_from
   or p.person_id in (select person_id from active_persons)
union
select g.join_month, g.source, g.invite_code
from gold.member_sources g, bounds b
where g.join_month >= b.month_from;

drop table if exists group_members;

create temp table group_members on commit drop as
select p.*,
       -- The person's last active day (silver.is_active_person_day), through the index.
       (select a.day
        from silver.activity_daily a
        where a.person_id = p.person_id and a.day >= p.join_day
        group by a.day
        having silver.is_active_person_day(sum(a.voice_seconds), sum(a.messages),
                                           sum(a.game_seconds))
        order by a.day desc
        limit 1) as last_active
from source_persons p
join source_groups g using (join_month, source, code);

drop table if exists new_sources;

create temp table new_sources on commit drop as
select join_month, source, code,
       -- One invite has one creator.
       max(inviter_id) as inviter_id,
       count(*)::int as joined,
       count(*) filter (where young_account)::int as young_accounts,
       count(*) filter (where still_member)::int as still_members,
       count(*) filter (where last_active >= join_day + 1)::int as active_after_1d,
       count(*) filter (where last_active >= join_day + 7)::int as active_after_7d,
       count(*) filter (where last_active >= join_day + 30)::int as active_after_30d
from group_members
group by join_month, source, code;

drop table if exists new_retention;

-- Only the months from the first changed one on are counted again (as for the cohorts):
-- earlier cells keep their counts, and get the group's size below.
create temp table new_retention on commit drop as
with month_from as (
    select date_trunc('month', current_setting('guildhall.day_from')::date)::date as m
),
active_months as (
    select m.join_month, m.source, m.code, date_trunc('month', d.day)::date as month,
           count(distinct m.person_id)::int as active
    from group_members m
    cross join month_from f
    cross join lateral (
        select a.day
        from silver.activity_daily a
        where a.person_id = m.person_id
          and a.day >= greatest(m.join_month, f.m)
          and a.day < (m.join_month + interval '13 months')::date
        group by a.day
        having silver.is_active_person_day(sum(a.voice_seconds), sum(a.messages),
                                           sum(a.game_seconds))
    ) d
    where m.join_month > (f.m - interval '13 months')::date
    group by m.join_month, m.source, m.code, date_trunc('month', d.day)
)
select s.join_month, s.source, s.code, k.k as months_after, s.joined as cohort_size,
       coalesce(a.active, 0) as active,
       round(100.0 * coalesce(a.active, 0) / nullif(s.joined, 0), 2) as percentage,
       m.month = date_trunc('month', current_setting('guildhall.today')::date)::date as partial
from new_sources s
cross join generate_series(0, 12) as k (k)
cross join lateral (select (s.join_month + make_interval(months => k.k))::date as month) m
left join active_months a
  on a.join_month = s.join_month and a.source = s.source and a.code = s.code
 and a.month = m.month
where m.month <= date_trunc('month', current_setting('guildhall.today')::date)::date
  and m.month >= date_trunc('month', current_setting('guildhall.day_from')::date)::date;

with stale as (
    delete from gold.member_sources g
    using source_groups s
    where g.join_month = s.join_month and g.source = s.source and g.invite_code = s.code
      and not exists (select 1 from new_sources n
                      where n.join_month = g.join_month and n.source = g.source
                        and n.code = g.invite_code)
    returning 1
),
stale_retention as (
    delete from gold.member_source_retention g
    using source_groups s
    where g.join_month = s.join_month and g.source = s.source and g.invite_code = s.code
      -- A group that is gone loses every cell; the others only recounted months.
      and (not exists (select 1 from new_sources n
                       where n.join_month = g.join_month and n.source = g.source
                         and n.code = g.invite_code)
           or (g.join_month + make_interval(months => g.months_after))::date
              >= date_trunc('month', current_setting('guildhall.day_from')::date)::date)
      and not exists (select 1 from new_retention n
                      where n.join_month = g.join_month and n.source = g.source
                        and n.code = g.invite_code and n.months_after = g.months_after)
    returning 1
),
upserted as (
    insert into gold.member_sources
        (join_month, source, invite_code, inviter_id, joined, young_accounts, still_members,
         active_after_1d, active_after_7d, active_after_30d, computed_at)
    select join_month, source, code, inviter_id, joined, young_accounts, still_members,
           active_after_1d, active_after_7d, active_after_30d, now()
    from new_sources
    on conflict (join_month, source, invite_code) do update
        set inviter_id = excluded.inviter_id,
            joined = excluded.joined,
            young_accounts = excluded.young_accounts,
            still_members = excluded.still_members,
            active_after_1d = excluded.active_after_1d,
            active_after_7d = excluded.active_after_7d,
            active_after_30d = excluded.active_after_30d,
            computed_at = excluded.computed_at
        where (gold.member_sources.inviter_id, gold.member_sources.joined,
               gold.member_sources.young_accounts, gold.member_sources.still_members,
               gold.member_sources.active_after_1d, gold.member_sources.active_after_7d,
               gold.member_sources.active_after_30d)
              is distinct from
              (excluded.inviter_id, excluded.joined, excluded.young_accounts,
               excluded.still_members, excluded.active_after_1d, excluded.active_after_7d,
               excluded.active_after_30d)
    returning 1
),
upserted_retention as (
    insert into gold.member_source_retention
        (join_month, source, invite_code, months_after, cohort_size, active, percentage,
         partial, computed_at)
    select join_month, source, code, months_after, cohort_size, active, percentage, partial,
           now()
    from new_retention
    on conflict (join_month, source, invite_code, months_after) do update
        set cohort_size = excluded.cohort_size,
            active = excluded.active,
            percentage = excluded.percentage,
            partial = excluded.partial,
            computed_at = excluded.computed_at
        where (gold.member_source_retention.cohort_size, gold.member_source_retention.active,
               gold.member_source_retention.partial)
              is distinct from (excluded.cohort_size, excluded.active, excluded.partial)
    returning 1
),
-- Earlier cells of a group that grew get its size and percentages.
resized as (
    update gold.member_source_retention r
    set cohort_size = n.joined,
        percentage = round(100.0 * r.active / nullif(n.joined, 0), 2),
        computed_at = now()
    from new_sources n
    where r.join_month = n.join_month and r.source = n.source and r.invite_code = n.code
      and (r.join_month + make_interval(months => r.months_after))::date
          < date_trunc('month', current_setting('guildhall.day_from')::date)::date
      and r.cohort_size <> n.joined
    returning 1
)
select ((select count(*) from stale) + (select count(*) from stale_retention)
        + (select count(*) from upserted) + (select count(*) from upserted_retention)
        + (select count(*) from resized))::bigint
           as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
