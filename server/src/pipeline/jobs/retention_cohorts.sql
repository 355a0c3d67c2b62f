-- retention_cohorts: silver.dim_members, silver.activity_daily -> gold.retention_cohorts
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose activity or joins changed
--   guildhall.today                        the community's local today
--   guildhall.tz                           the community's IANA time zone
-- Cohort: the local month of a person's first join of a tracked guild (any of their
-- Discord accounts). For k = 0…12, the persons of the cohort active (as for daily active
-- users) on at least one day of month cohort + k. Members who left stay in the cohort.
-- The cells of the months from the first changed one to now are counted again; cohort
-- sizes always. Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

with bounds as (
    select date_trunc('month', current_setting('guildhall.day_from')::date)::date as month_from,
           date_trunc('month', current_setting('guildhall.today')::date)::date as month_now
),
person_cohort as (
    select i.person_id,
           date_trunc('month', min(m.first_joined_at)
                               at time zone current_setting('guildhall.tz'))::date as cohort
    from silver.dim_members m
    join silver.user_identities i
      on i.kind = 'discord' and i.external_id = m.discord_user_id::text
    where m.first_joined_at is not null
    group by i.person_id
),
sizes as (
    select cohort, count(*)::int as size from person_cohort group by cohort
),
-- Active person-days (silver.is_active_person_day) from the first recounted month on, read
-- by day through the index.
active_days as (
    select a.day, a.person_id
    from silver.activity_daily a, bounds b
    where a.day >= b.month_from
    group by a.day, a.person_id
    having silver.is_active_person_day(sum(a.voice_seconds), sum(a.messages), sum(a.game_seconds))
),
counted as (
    select pc.cohort, date_trunc('month', d.day)::date as month,
           count(distinct d.person_id)::int as active
    from active_days d
    join person_cohort pc on pc.person_id = d.person_id
    group by pc.cohort, date_trunc('month', d.day)
),
cells as (
    select s.cohort, k.k, s.size, coalesce(c.active, 0) as active, m.month,
           m.month = b.month_now as partial
    from sizes s
    cross join generate_series(0, 12) as k (k)
    cross join bounds b
    cross join lateral (select (s.cohort + make_interval(months => k.k))::date as month) m
    left join counted c on c.cohort = s.cohort and c.month = m.month
    where m.month between b.month_from and b.month_now
),
upserted as (
    insert into gold.retention_cohorts
        (cohort_month, months_after, cohort_size, active, percentage, partial, computed_at)
    select cohort, k, size, active, round(100.0 * active / nullif(size, 0), 2), partial, now()
    from cells
    on conflict (cohort_month, months_after) do update
        set cohort_size = excluded.cohort_size,
            active = excluded.active,
            percentage = excluded.percentage,
            partial = excluded.partial,
            computed_at = excluded.computed_at
        where (gold.retention_cohorts.cohort_size, gold.retention_cohorts.active,
               gold.retention_cohorts.partial)
              is distinct from (excluded.cohort_size, excluded.active, excluded.partial)
    returning 1
),
-- Earlier months keep their counts; a cohort that grew (a member found by a later
-- synchronisation) gets its size and percentages there too.
resized as (
    update gold.retention_cohorts r
    set cohort_size = s.size,
        percentage = round(100.0 * r.active / nullif(s.size, 0), 2),
        computed_at = now()
    from sizes s, bounds b
    where r.cohort_month = s.cohort
      and (r.cohort_month + make_interval(months => r.months_after))::date < b.month_from
      and r.cohort_size <> s.size
    returning 1
)
select ((select count(*) from upserted) + (select count(*) from resized))::bigint as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
