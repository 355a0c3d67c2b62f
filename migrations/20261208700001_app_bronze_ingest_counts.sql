-- Rows written to each bronze table per minute (and per game server), for the admin status
-- page's "events in the last hour": summing at most 60 rows per source answers at once
-- where counting bronze (12 million rows in the 20,000-member demo, all written within the
-- hour after `guildhall demo`) would not. Kept for a day.
create table app.bronze_ingest_counts (
    table_name text not null,
    -- The game server for game tables; 0 for Discord's.
    server_id bigint not null default 0,
    minute timestamptz not null,
    rows bigint not null,
    primary key (table_name, server_id, minute)
);
comment on table app.bronze_ingest_counts is 'Rows written to each bronze table per minute and game server (0: Discord), for the last hour on the admin status page; a day is kept.';

-- Counts the rows one statement wrote (a writer's batch) and drops minutes older than a day.
create function bronze.count_ingested() returns trigger
language plpgsql as $$
begin
    if TG_ARGV[0] = 'server' then
        insert into app.bronze_ingest_counts (table_name, server_id, minute, rows)
        select TG_TABLE_NAME, n.server_id, date_trunc('minute', now()), count(*)
        from new_rows n group by n.server_id
        on conflict (table_name, server_id, minute)
        do update set rows = app.bronze_ingest_counts.rows + excluded.rows;
    else
        insert into app.bronze_ingest_counts (table_name, server_id, minute, rows)
        select TG_TABLE_NAME, 0, date_trunc('minute', now()), count(*)
        from new_rows having count(*) > 0
        on conflict (table_name, server_id, minute)
        do update set rows = app.bronze_ingest_counts.rows + excluded.rows;
    end if;
    delete from app.bronze_ingest_counts
    where table_name = TG_TABLE_NAME and minute < now() - interval '1 day';
    return null;
end;
$$;

create trigger discord_voice_events_count after insert on bronze.discord_voice_events
    referencing new table as new_rows for each statement execute function bronze.count_ingested('discord');
create trigger discord_messages_count after insert on bronze.discord_messages
    referencing new table as new_rows for each statement execute function bronze.count_ingested('discord');
create trigger discord_member_events_count after insert on bronze.discord_member_events
    referencing new table as new_rows for each statement execute function bronze.count_ingested('discord');
create trigger discord_scheduled_events_count after insert on bronze.discord_scheduled_events
    referencing new table as new_rows for each statement execute function bronze.count_ingested('discord');
create trigger game_status_snapshots_count after insert on bronze.game_status_snapshots
    referencing new table as new_rows for each statement execute function bronze.count_ingested('server');
create trigger game_log_events_count after insert on bronze.game_log_events
    referencing new table as new_rows for each statement execute function bronze.count_ingested('server');
create trigger game_metric_samples_count after insert on bronze.game_metric_samples
    referencing new table as new_rows for each statement execute function bronze.count_ingested('server');
