-- The latest backfill for /admin/status, with the time left estimated from its rate so
-- far. A `running` one whose runner holds no lock any more (its process stopped) shows as
-- interrupted. $1: the community's time zone, $2: the runner's advisory lock key.
select b.id, b.from_day, b.to_day, b.jobs,
       case when b.state = 'running' and not exists (
                select 1 from pg_locks l
                where l.locktype = 'advisory' and l.granted
                  and l.database = (select oid from pg_database where datname = current_database())
                  and ((l.classid::bigint << 32) | l.objid::bigint) = $2 and l.objsubid = 1)
            then 'interrupted' else b.state end as state,
       coalesce(u.display_name, u.username) as requested_by,
       b.requested_at at time zone $1 as requested_at,
       b.started_at at time zone $1 as started_at,
       b.finished_at at time zone $1 as finished_at,
       b.days_done, b.days_total, b.rows_written, b.cancel_requested, b.error,
       case when b.state = 'running' and b.days_done > 0 then
           ceil(extract(epoch from now() - b.started_at) / b.days_done
                * (b.days_total - b.days_done))::bigint
       end as seconds_left
from app.backfills b
left join app.users u on u.id = b.requested_by
order by b.id desc
limit 1
