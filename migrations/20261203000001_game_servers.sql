-- Game servers are configuration in the database: the collectors read this table at run
-- time, so servers added, changed or disabled are picked up without a restart.
create table app.game_servers (
    server_id bigint generated always as identity primary key,
    name text not null unique check (length(btrim(name)) between 1 and 100),
    game text not null check (game in ('cs2', 'csgo', 'tf2', 'source', 'minecraft')),
    host text not null check (length(btrim(host)) > 0),
    rcon_port integer check (rcon_port between 1 and 65535),
    -- Write-only from the web app's point of view; never shown, never logged.
    rcon_password text,
    poll_interval_secs integer not null default 60 check (poll_interval_secs between 5 and 3600),
    log_source text not null default 'none' check (log_source in ('none', 'http', 'file', 'sftp')),
    -- The folder holding the logs: on this machine (file) or on the SFTP server (sftp).
    log_path text,
    sftp_port integer not null default 22 check (sftp_port between 1 and 65535),
    sftp_user text,
    sftp_password text,
    -- The server's host key fingerprint (SHA256:…), pinned: a different key is refused.
    sftp_host_key text,
    -- The zone the server writes its log timestamps in; empty: the community's zone.
    log_timezone text,
    -- The secret in the HTTP log ingest URL (/ingest/logs/{token}).
    ingest_token text not null unique check (length(ingest_token) >= 24),
    prometheus_url text,
    metrics_interval_secs integer not null default 30 check (metrics_interval_secs between 5 and 3600),
    capacity_override integer check (capacity_override > 0),
    enabled boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
comment on table app.game_servers is 'The community''s game servers and how Guildhall reaches them (RCON, logs, Prometheus).';

-- Each source of each server: last success and last error, for the admin pages.
create table app.game_source_status (
    server_id bigint not null references app.game_servers (server_id) on delete cascade,
    source text not null check (source in ('rcon', 'logs', 'metrics')),
    last_success_at timestamptz,
    last_error text,
    last_error_at timestamptz,
    primary key (server_id, source)
);
comment on table app.game_source_status is 'Per game server and source (rcon, logs, metrics): the last success and the last error.';

-- Where each log stream was read up to: a restart resumes there, a rotation or truncation
-- is recognised by the file's identity and size.
create table app.game_log_cursors (
    server_id bigint not null references app.game_servers (server_id) on delete cascade,
    stream text not null,
    file_id text,
    read_offset bigint not null default 0,
    -- The day a time-only log (Minecraft) is on at read_offset.
    log_day date,
    updated_at timestamptz not null default now(),
    primary key (server_id, stream)
);
comment on table app.game_log_cursors is 'Per game server and log stream (a tailed file, an SFTP file, CS2''s HTTP log): how far it was read.';

-- Bronze: one row per RCON status poll.
create table bronze.game_status_snapshots (
    event_id bigint generated always as identity,
    server_id bigint not null,
    polled_at timestamptz not null,
    map text,
    humans integer not null check (humans >= 0),
    bots integer not null default 0 check (bots >= 0),
    max_players integer,
    -- [{"name", "account_kind", "account_id", "connected_secs", "ping"}] per human player.
    players jsonb not null default '[]',
    ingested_at timestamptz not null default clock_timestamp(),
    primary key (server_id, polled_at)
);
create index game_status_snapshots_event_id_idx on bronze.game_status_snapshots (event_id);
comment on table bronze.game_status_snapshots is 'One RCON status (or Minecraft list) poll per row: map, humans, bots, max players and the human players then online.';
comment on column bronze.game_status_snapshots.players is 'Human players online: name, account (steam: SteamID64, minecraft: UUID) where the game printed one, connected seconds and ping.';

-- Bronze: the events of game server logs (HTTP, tailed files, SFTP, imports). A line is
-- stored once whatever way it came: the key is the server, the instant and a hash of the
-- line. Chat is kept as its length; addresses as a salted hash.
create table bronze.game_log_events (
    event_id bigint generated always as identity,
    server_id bigint not null,
    occurred_at timestamptz not null,
    line_hash bigint not null,
    kind text not null check (kind in ('connected', 'validated', 'entered', 'disconnected', 'left',
                                       'team', 'chat', 'account', 'map', 'round_start', 'round_end',
                                       'server_start', 'server_stop', 'unparsed')),
    player_name text,
    account_kind text check (account_kind in ('steam', 'minecraft')),
    account_id text,
    is_bot boolean not null default false,
    ip_hash text,
    -- reason (disconnected), from/to (team), map, chat_length, team_only (chat), error and
    -- the redacted line (unparsed).
    detail jsonb,
    ingested_at timestamptz not null default clock_timestamp(),
    primary key (server_id, occurred_at, line_hash)
);
create index game_log_events_event_id_idx on bronze.game_log_events (event_id);
comment on table bronze.game_log_events is 'Events from game server logs, one per line worth keeping; lines that could not be read are kept as kind unparsed with their error. Never chat text, never a raw IP address.';
comment on column bronze.game_log_events.account_id is 'SteamID64 (steam) or lowercase UUID (minecraft) where the line carries one.';
comment on column bronze.game_log_events.ip_hash is 'Salted hash of the player''s address (salt rotates daily); never the address.';

-- Bronze: Prometheus exporter samples per scrape.
create table bronze.game_metric_samples (
    event_id bigint generated always as identity,
    server_id bigint not null,
    scraped_at timestamptz not null,
    players_online double precision,
    tps double precision,
    tick_ms double precision,
    memory_used_bytes double precision,
    memory_max_bytes double precision,
    bad_lines integer not null default 0,
    ingested_at timestamptz not null default clock_timestamp(),
    primary key (server_id, scraped_at)
);
create index game_metric_samples_event_id_idx on bronze.game_metric_samples (event_id);
comment on table bronze.game_metric_samples is 'Selected series of a game server''s Prometheus exporter, one row per scrape.';

-- Silver: one row per continuous stay of a player on a game server.
create table silver.fact_game_sessions (
    server_id bigint not null,
    -- steam:<SteamID64>, minecraft:<uuid>, or name:<name> where the server names no account.
    player_key text not null,
    started_at timestamptz not null,
    ended_at timestamptz,
    seconds bigint generated always as (extract(epoch from (ended_at - started_at))::bigint) stored,
    account_kind text check (account_kind in ('steam', 'minecraft')),
    account_id text,
    person_id bigint references silver.dim_user (person_id),
    player_name text,
    source text not null check (source in ('log', 'status')),
    end_reason text check (end_reason in ('disconnect', 'server_stop', 'gap')),
    primary key (server_id, player_key, started_at)
);
create index fact_game_sessions_time_idx on silver.fact_game_sessions (started_at, ended_at);
create index fact_game_sessions_open_idx on silver.fact_game_sessions (server_id) where ended_at is null;
comment on table silver.fact_game_sessions is 'One row per continuous stay of a human player on a game server, from its log events where the server sends logs, else from consecutive status polls (a gap of more than two poll intervals ends a session).';
comment on column silver.fact_game_sessions.player_key is 'steam:<SteamID64>, minecraft:<UUID>, or name:<in-game name> where the server names no account (such sessions count for server load, not for persons).';
comment on column silver.fact_game_sessions.person_id is 'The person the account belongs to (silver.dim_user); empty for name-only sessions.';
comment on column silver.fact_game_sessions.ended_at is 'When the player left; empty while still on the server.';
comment on column silver.fact_game_sessions.source is 'log (connect/disconnect lines) or status (RCON polls).';
comment on column silver.fact_game_sessions.end_reason is 'disconnect, server_stop (the server stopped or restarted) or gap (no longer in the polls); empty while open.';

-- Until when each server was heard from (open sessions count up to here).
create table silver.game_server_heard (
    server_id bigint primary key,
    heard_until timestamptz not null
);
comment on table silver.game_server_heard is 'The last instant each game server was heard from (a log line or a poll): open sessions count up to it.';

-- Silver: load per server and minute (minutes with players or samples only).
create table silver.server_load (
    server_id bigint not null,
    minute timestamptz not null,
    humans numeric(8, 3) not null,
    peak_humans integer not null,
    capacity integer,
    tps double precision,
    primary key (server_id, minute)
);
comment on table silver.server_load is 'Per game server and minute: time-weighted average human players, the most at once, capacity and TPS where known. Minutes without players or samples have no row.';

-- Gold: per server and hour.
create table gold.server_utilization (
    server_id bigint not null,
    hour timestamptz not null,
    avg_humans numeric(8, 3) not null,
    peak_humans integer not null,
    capacity integer,
    utilization_pct numeric(6, 2),
    primary key (server_id, hour)
);
comment on table gold.server_utilization is 'Per game server and hour: time-weighted average and peak human players, capacity and utilization (average / capacity, in percent).';
comment on column gold.server_utilization.hour is 'Start of the hour (an instant; local hours in the profile view).';
comment on column gold.server_utilization.avg_humans is 'Time-weighted average of human players during the hour.';
comment on column gold.server_utilization.peak_humans is 'The most human players at once during the hour.';
comment on column gold.server_utilization.capacity is 'Player slots (the override, else the server''s max players); empty when unknown.';
comment on column gold.server_utilization.utilization_pct is 'avg_humans / capacity × 100; empty when the capacity is unknown.';

-- Every game account becomes a person on first sight (identity linking merges later).
create function silver.ensure_game_persons(account_kind text, account_ids text[]) returns void
language sql
as $$
    with new_accounts as (
        select distinct a.account_id
        from unnest(account_ids) as a (account_id)
        where a.account_id is not null
          and not exists (
            select 1 from silver.user_identities i
            where i.kind = account_kind and i.external_id = a.account_id
        )
    ),
    persons as (
        select account_id,
               nextval(pg_get_serial_sequence('silver.dim_user', 'person_id')) as person_id
        from new_accounts
    ),
    created as (
        insert into silver.dim_user (person_id)
        overriding system value
        select person_id from persons
    )
    insert into silver.user_identities (kind, external_id, person_id, verified_by)
    select account_kind, account_id, person_id, 'observed'
    from persons
    on conflict (kind, external_id) do nothing;
$$;
comment on function silver.ensure_game_persons(text, text[]) is
    'Gives each game account (steam: SteamID64, minecraft: UUID) without an identity a person of its own.';

-- Gold: the weekly rhythm of each server over the last weeks (GUILDHALL_GAMES__PROFILE_WEEKS,
-- default 8), for the cost question: when could a server be off?
create table gold.server_weekly_profile (
    server_id bigint not null,
    weekday smallint not null check (weekday between 1 and 7),
    hour smallint not null check (hour between 0 and 23),
    avg_humans numeric(8, 3) not null,
    peak_humans integer not null,
    utilization_pct numeric(6, 2),
    low_use boolean not null,
    weeks integer not null,
    primary key (server_id, weekday, hour)
);
comment on table gold.server_weekly_profile is 'Per game server, local weekday (1 = Monday) and local hour: average and peak human players over the last weeks, and whether the hour is low-use (average below 10 % of capacity, or below one player where the capacity is unknown).';
comment on column gold.server_weekly_profile.weeks is 'How many weeks the profile covers.';
comment on column gold.server_weekly_profile.low_use is 'Average below 10 % of capacity (below one player where the capacity is unknown): an hour the server could be off.';

-- Minecraft names its players' UUIDs in a line of their own: the sessions transform looks
-- the latest one up per name.
create index game_log_events_account_idx on bronze.game_log_events (server_id, player_name, occurred_at)
    where kind = 'account';

-- TimescaleDB, where it is installed and preloaded (plain PostgreSQL works the same).
do $$
begin
    if exists (select 1 from pg_available_extensions where name = 'timescaledb')
       and current_setting('shared_preload_libraries', true) like '%timescaledb%' then
        begin
            create extension if not exists timescaledb;
            execute $q$select create_hypertable('bronze.game_log_events', 'occurred_at', migrate_data => true)$q$;
            execute $q$select create_hypertable('bronze.game_status_snapshots', 'polled_at', migrate_data => true)$q$;
            execute $q$select create_hypertable('bronze.game_metric_samples', 'scraped_at', migrate_data => true)$q$;
        exception when insufficient_privilege then
            raise notice 'TimescaleDB is available but this role may not use it: plain tables';
        end;
    end if;
end
$$;

comment on column gold.server_utilization.server_id is 'The game server (app.game_servers).';
comment on column gold.server_weekly_profile.server_id is 'The game server (app.game_servers).';
comment on column gold.server_weekly_profile.weekday is 'Local weekday, 1 = Monday … 7 = Sunday.';
comment on column gold.server_weekly_profile.hour is 'Local hour of the day, 0–23.';
comment on column gold.server_weekly_profile.avg_humans is 'Average of the hour''s time-weighted human players over the weeks.';
comment on column gold.server_weekly_profile.peak_humans is 'The most human players at once in that hour over the weeks.';
comment on column gold.server_weekly_profile.utilization_pct is 'avg_humans / capacity × 100; empty when the capacity is unknown.';
comment on column silver.fact_game_sessions.server_id is 'The game server (app.game_servers).';
comment on column silver.fact_game_sessions.started_at is 'When the player entered the game (or was first seen by a poll, minus the connected time it printed).';
comment on column silver.fact_game_sessions.seconds is 'Length of the session in seconds; empty while open.';
comment on column silver.fact_game_sessions.account_kind is 'steam or minecraft; empty for name-only sessions.';
comment on column silver.fact_game_sessions.account_id is 'SteamID64 or Minecraft UUID.';
comment on column silver.fact_game_sessions.player_name is 'The in-game name last seen in the session.';
comment on column silver.game_server_heard.server_id is 'The game server (app.game_servers).';
comment on column silver.game_server_heard.heard_until is 'The last log line or poll received from it.';
comment on column silver.server_load.server_id is 'The game server (app.game_servers).';
comment on column silver.server_load.minute is 'Start of the minute.';
comment on column silver.server_load.humans is 'Time-weighted average of human players in the minute.';
comment on column silver.server_load.peak_humans is 'The most human players at once in the minute.';
comment on column silver.server_load.capacity is 'Player slots (the override, else the last poll''s max players).';
comment on column silver.server_load.tps is 'Average ticks per second reported by the exporter in the minute.';
