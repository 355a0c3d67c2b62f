-- Every pipeline job for /admin/status: its watermark, the bronze rows waiting for it
-- (counted up to $4 on the id index), its last run and its retries.
-- $1: the jobs in plan order, $2: the bronze table each reads by id ('' for per-day jobs),
-- $3: the community's time zone, $4: the cap of a backlog count.
with jobs as (
    select * from unnest($1::text[], $2::text[]) with ordinality j (job, input, position)
),
with_state as (
    select j.job, j.input, j.position, s.watermark, s.last_success_at, s.attempts,
           s.next_attempt_at, s.last_error, s.last_error_at
    from jobs j left join app.pipeline_state s using (job)
)
select w.job,
       case when w.input <> '' then coalesce(w.watermark, 0) end as watermark,
       case w.input
           when 'bronze.discord_voice_events' then (select count(*) from (
               select 1 from bronze.discord_voice_events
               where event_id > coalesce(w.watermark, 0) limit $4) b)
           when 'bronze.discord_messages' then (select count(*) from (
               select 1 from bronze.discord_messages
               where event_id > coalesce(w.watermark, 0) limit $4) b)
           when 'bronze.discord_member_events' then (select count(*) from (
               select 1 from bronze.discord_member_events
               where event_id > coalesce(w.watermark, 0) limit $4) b)
           when 'bronze.discord_scheduled_events' then (select count(*) from (
               select 1 from bronze.discord_scheduled_events
               where change_id > coalesce(w.watermark, 0) limit $4) b)
           when 'bronze.game_log_events' then (select count(*) from (
               select 1 from bronze.game_log_events
               where event_id > coalesce(w.watermark, 0) limit $4) b)
           when 'bronze.game_status_snapshots' then (select count(*) from (
               select 1 from bronze.game_status_snapshots
               where event_id > coalesce(w.watermark, 0) limit $4) b)
           when 'bronze.game_metric_samples' then (select count(*) from (
               select 1 from bronze.game_metric_samples
               where event_id > coalesce(w.watermark, 0) limit $4) b)
       end as backlog,
       w.last_success_at at time zone $3 as last_success_at,
       coalesce(w.attempts, 0) as attempts,
       w.next_attempt_at at time zone $3 as next_attempt_at,
       w.last_error,
       w.last_error_at at time zone $3 as last_error_at,
       r.trigger, r.started_at at time zone $3 as started_at,
       r.range_from at time zone $3 as range_from, r.range_to at time zone $3 as range_to,
       r.duration_ms, r.rows_affected, r.error
from with_state w
left join lateral (
    select * from app.pipeline_runs r
    where r.job = w.job and r.finished_at is not null
    order by r.started_at desc, r.id desc limit 1
) r on true
order by w.position
