-- Joins, leaves and members per local week, from gold.member_growth_weekly (job
-- member_growth). $1: the community's time zone; $2: how many weeks up to the current one,
-- or null for every week the table holds.
with this_week as (
    select date_trunc('week', (now() at time zone $1)::date)::date as week
),
weeks as (
    select w::date as week
    from this_week t,
         generate_series(t.week - make_interval(weeks => $2 - 1), t.week, interval '1 week') w
    where $2 is not null
    union all
    select week_of from gold.member_growth_weekly where $2 is null
)
select w.week, coalesce(g.joins, 0)::int8, coalesce(g.leaves, 0)::int8,
       -- A week the pipeline has not counted yet (it just began) has the members of the
       -- last counted one; a week before anyone joined has none.
       coalesce(g.members,
                (select p.members from gold.member_growth_weekly p
                 where p.week_of < w.week order by p.week_of desc limit 1),
                0)::int8
from weeks w
left join gold.member_growth_weekly g on g.week_of = w.week
order by w.week
