-- Erases one game server's history ($1 = server_id) from bronze, silver and gold, and
-- returns how many rows went. The jobs that read its game sessions (activity per day,
-- presence hours, …) recompute from the first day it had any.
with first_session as (
    -- Every part of one statement sees the rows as they were before it.
    select min(started_at) as at from silver.fact_game_sessions where server_id = $1
),
status_snapshots as (
    delete from bronze.game_status_snapshots where server_id = $1 returning 1
),
log_events as (
    delete from bronze.game_log_events where server_id = $1 returning 1
),
metric_samples as (
    delete from bronze.game_metric_samples where server_id = $1 returning 1
),
sessions as (
    delete from silver.fact_game_sessions where server_id = $1 returning 1
),
heard as (
    delete from silver.game_server_heard where server_id = $1 returning 1
),
server_load as (
    delete from silver.server_load where server_id = $1 returning 1
),
utilization as (
    delete from gold.server_utilization where server_id = $1 returning 1
),
weekly_profile as (
    delete from gold.server_weekly_profile where server_id = $1 returning 1
),
-- The status section's per-minute counts of the rows it wrote (not history: not counted).
ingest_counts as (
    delete from app.bronze_ingest_counts where server_id = $1 returning 1
),
-- Referenced below, so it runs (a plain select that nothing reads would not).
recompute as (
    select app.mark_dirty('silver.fact_game_sessions', (select at from first_session))
)
select (select count(*) from status_snapshots)
     + (select count(*) from log_events)
     + (select count(*) from metric_samples)
     + (select count(*) from sessions)
     + (select count(*) from heard)
     + (select count(*) from server_load)
     + (select count(*) from utilization)
     + (select count(*) from weekly_profile)
     + 0 * (select count(*) from recompute)
     + 0 * (select count(*) from ingest_counts)
