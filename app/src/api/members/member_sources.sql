-- Where the members of the last 12 months came from, per invite (or unknown), most joins
-- first: gold.member_sources (job member_sources) with the admin's label, the inviter (null
-- for a hidden member) and the month-1 retention of its completed join months.
-- $1: the community's time zone.
with recent as (
    select * from gold.member_sources
    where join_month >= date_trunc('month', (now() at time zone $1)::date)
                        - interval '11 months'
)
select r.source, r.invite_code,
       (select l.label from app.invite_labels l where l.code = r.invite_code
        order by l.updated_at desc limit 1),
       (select case when app.is_hidden_discord(i.inviter_id) then null else i.inviter_name end
        from app.discord_invites i where i.code = r.invite_code
        order by i.seen_at desc limit 1),
       sum(r.joined)::int8, sum(r.young_accounts)::int8, sum(r.still_members)::int8,
       sum(r.active_after_1d)::int8, sum(r.active_after_7d)::int8,
       sum(r.active_after_30d)::int8,
       (select 100.0 * sum(t.active) / nullif(sum(t.cohort_size), 0)
        from gold.member_source_retention t
        where t.source = r.source and t.invite_code = r.invite_code
          and t.months_after = 1 and not t.partial
          and t.join_month >= date_trunc('month', (now() at time zone $1)::date)
                              - interval '11 months')::float8
from recent r
group by r.source, r.invite_code
order by sum(r.joined) desc, r.invite_code
