-- funnel: silver.dim_members, silver.user_identities, silver.fact_game_sessions,
--         silver.activity_daily -> silver.person_regular_months, gold.funnel_monthly
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose activity changed
--   guildhall.tz                           the community's IANA time zone
-- Joined → linked a game account (by a member or an admin, not merely observed) → played
-- on a tracked game server → regular (active, as silver.is_active_person_day says, on at
-- least four local days of some month), per local month of the first join; each step
-- counts only those who took the step before it. The regular months are recounted for the
-- months of the changed days (through the day index); the funnel itself is one pass over
-- the members (a row per member, not per event), and only rows that changed are written.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

drop table if exists regular_recount;

create temp table regular_recount on commit drop as
with bounds as (
    select date_trunc('month', current_setting('guildhall.day_from')::date)::date as m0,
           date_trunc('month', current_setting('guildhall.day_to')::date)::date as m1
)
select person_id, date_trunc('month', day)::date as month
from (
    select a.person_id, a.day
    from silver.activity_daily a, bounds b
    where a.day >= b.m0 and a.day < (b.m1 + interval '1 month')::date
    group by a.person_id, a.day
    having silver.is_active_person_day(sum(a.voice_seconds), sum(a.messages),
                                       sum(a.game_seconds))
) active_days
group by 1, 2
having count(*) >= 4;

with stale as (
    delete from silver.person_regular_months r
    where r.month >= date_trunc('month', current_setting('guildhall.day_from')::date)::date
      and r.month <= date_trunc('month', current_setting('guildhall.day_to')::date)::date
      and not exists (select 1 from regular_recount c
                      where c.person_id = r.person_id and c.month = r.month)
    returning 1
),
added as (
    insert into silver.person_regular_months (person_id, month)
    select person_id, month from regular_recount
    on conflict do nothing
    returning 1
)
select (select count(*) from stale) + (select count(*) from added) as regular_rows;

drop table if exists funnel_counts;

create temp table funnel_counts on commit drop as
with joined as (
    select m.discord_user_id, min(m.first_joined_at) as joined_at
    from silver.dim_members m
    where m.first_joined_at is not null
    group by 1
),
persons as (
    select j.discord_user_id, j.joined_at, i.person_id
    from joined j
    left join silver.user_identities i
           on i.kind = 'discord' and i.external_id = j.discord_user_id::text
),
steps as (
    select p.joined_at,
           exists (select 1 from silver.user_identities g
                   where g.person_id = p.person_id and g.kind <> 'discord'
                     and g.verified_by <> 'observed') as linked,
           exists (select 1 from silver.fact_game_sessions s
                   where s.person_id = p.person_id) as played,
           exists (select 1 from silver.person_regular_months r
                   where r.person_id = p.person_id) as regular
    from persons p
)
select date_trunc('month', joined_at at time zone current_setting('guildhall.tz'))::date
           as join_month,
       count(*)::int as joined,
       count(*) filter (where linked)::int as linked,
       count(*) filter (where linked and played)::int as played,
       count(*) filter (where linked and played and regular)::int as regular
from steps
group by 1;

with stale as (
    delete from gold.funnel_monthly g
    where not exists (select 1 from funnel_counts f where f.join_month = g.join_month)
    returning 1
),
upserted as (
    insert into gold.funnel_monthly (join_month, joined, linked, played, regular, computed_at)
    select join_month, joined, linked, played, regular, now() from funnel_counts
    on conflict (join_month) do update
        set joined = excluded.joined,
            linked = excluded.linked,
            played = excluded.played,
            regular = excluded.regular,
            computed_at = excluded.computed_at
        -- Unchanged months stay untouched, so a second run changes nothing.
        where (gold.funnel_monthly.joined, gold.funnel_monthly.linked,
               gold.funnel_monthly.played, gold.funnel_monthly.regular)
              is distinct from (excluded.joined, excluded.linked, excluded.played,
                                excluded.regular)
    returning 1
)
select ((select count(*) from stale) + (select count(*) from upserted))::bigint as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
