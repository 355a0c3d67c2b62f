-- The collectors and every game server's sources for /admin/status, each with the rows it
-- wrote to bronze in the last hour: summed from the per-minute counts the bronze tables'
-- triggers keep (app.bronze_ingest_counts), never counted from bronze itself.
-- $1: the community's time zone.
with recent as (
    select table_name, server_id, sum(rows)::bigint as rows
    from app.bronze_ingest_counts
    where minute >= date_trunc('minute', now()) - interval '1 hour'
    group by table_name, server_id
),
-- The Discord bot writes the discord_* tables; the game collector the game_* ones.
collectors as (
    select c.collector, ''::text as source, c.state, c.last_success_at, c.last_error,
           c.last_error_at, c.restarts,
           coalesce((select sum(r.rows) from recent r
                     where (c.collector = 'discord' and r.table_name like 'discord\_%')
                        or (c.collector = 'game_servers' and r.table_name like 'game\_%')),
                    0)::bigint as events,
           0 as sort_group
    from app.collector_status c
),
-- Each configured source of each game server, and each that reported before.
server_sources as (
    select g.name as collector, s.source, null::text as state, st.last_success_at,
           st.last_error, st.last_error_at, null::integer as restarts,
           coalesce((select r.rows from recent r
                     where r.server_id = g.server_id and r.table_name = s.table_name), 0) as events,
           1 as sort_group
    from app.game_servers g
    cross join (values ('rcon', 'game_status_snapshots'), ('logs', 'game_log_events'),
                       ('metrics', 'game_metric_samples')) s (source, table_name)
    left join app.game_source_status st on st.server_id = g.server_id and st.source = s.source
    where st.server_id is not null
       or (s.source = 'rcon' and g.rcon_port is not null)
       or (s.source = 'logs' and g.log_source <> 'none')
       or (s.source = 'metrics' and g.prometheus_url is not null)
)
select collector, source, state,
       last_success_at at time zone $1 as last_success_at,
       last_error,
       last_error_at at time zone $1 as last_error_at,
       restarts, events
from (select * from collectors union all select * from server_sources) every_source
order by sort_group, collector, source
