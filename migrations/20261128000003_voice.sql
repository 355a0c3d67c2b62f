-- Bronze: every voice state update the Discord bot saw, as received.
create table bronze.discord_voice_events (
    event_id bigint generated always as identity,
    -- Idempotency key: the same observation written twice is stored once.
    source_key text not null,
    guild_id bigint not null,
    user_id bigint not null,
    -- The channel the user is in after the update; null when they left voice.
    channel_id bigint,
    self_mute boolean not null default false,
    self_deaf boolean not null default false,
    -- 'gateway' for live updates, 'reconcile' for what the bot inferred on (re)connect.
    origin text not null default 'gateway' check (origin in ('gateway', 'reconcile', 'demo')),
    occurred_at timestamptz not null,
    ingested_at timestamptz not null default clock_timestamp(),
    primary key (occurred_at, event_id),
    unique (occurred_at, source_key)
);
create index discord_voice_events_event_id_idx on bronze.discord_voice_events (event_id);
create index discord_voice_events_user_idx on bronze.discord_voice_events (guild_id, user_id, occurred_at);

-- Silver: one row per person.
create table silver.dim_user (
    person_id bigint generated always as identity primary key,
    display_name text,
    created_at timestamptz not null default now()
);
comment on table silver.dim_user is 'One row per person. A person may have several identities (Discord, Steam, Minecraft).';
comment on column silver.dim_user.person_id is 'Stable id of the person; join facts on this column.';
comment on column silver.dim_user.display_name is 'Last known display name (may be empty).';
comment on column silver.dim_user.created_at is 'When Guildhall first saw this person.';

create table silver.user_identities (
    kind text not null check (kind in ('discord', 'steam', 'minecraft')),
    external_id text not null,
    person_id bigint not null references silver.dim_user (person_id),
    verified_by text not null default 'observed' check (verified_by in ('observed', 'oauth_connection', 'steam_openid', 'ingame_code', 'admin')),
    linked_at timestamptz not null default now(),
    primary key (kind, external_id)
);
create index user_identities_person_idx on silver.user_identities (person_id);
comment on table silver.user_identities is 'Accounts of a person on each platform and how the link was established.';
comment on column silver.user_identities.kind is 'Platform: discord, steam or minecraft.';
comment on column silver.user_identities.external_id is 'The account id on that platform (Discord snowflake, SteamID64, Minecraft UUID).';
comment on column silver.user_identities.person_id is 'The person this account belongs to (silver.dim_user).';
comment on column silver.user_identities.verified_by is 'How the link was established: observed (first sighting), oauth_connection, steam_openid, ingame_code or admin.';
comment on column silver.user_identities.linked_at is 'When the account was linked to the person.';

create table silver.fact_voice_sessions (
    guild_id bigint not null,
    discord_user_id bigint not null,
    started_at timestamptz not null,
    person_id bigint not null references silver.dim_user (person_id),
    channel_id bigint not null,
    ended_at timestamptz,
    seconds bigint generated always as (extract(epoch from (ended_at - started_at))::bigint) stored,
    is_afk boolean not null,
    end_reason text check (end_reason in ('leave', 'switch', 'reconcile')),
    primary key (guild_id, discord_user_id, started_at)
);
create index fact_voice_sessions_time_idx on silver.fact_voice_sessions (started_at, ended_at);
comment on table silver.fact_voice_sessions is 'One row per continuous stay of a person in one Discord voice channel. A channel switch ends one session and starts the next at the same instant.';
comment on column silver.fact_voice_sessions.guild_id is 'Discord guild (server) id.';
comment on column silver.fact_voice_sessions.discord_user_id is 'Discord user id of the account.';
comment on column silver.fact_voice_sessions.started_at is 'When the person joined the channel.';
comment on column silver.fact_voice_sessions.person_id is 'The person (silver.dim_user).';
comment on column silver.fact_voice_sessions.channel_id is 'Discord voice channel id.';
comment on column silver.fact_voice_sessions.ended_at is 'When the person left or switched channel; empty while the session is still open.';
comment on column silver.fact_voice_sessions.seconds is 'Length of the session in seconds; empty while open.';
comment on column silver.fact_voice_sessions.is_afk is 'True when the channel is the guild''s AFK channel (or the admin''s override). AFK time never counts as activity.';
comment on column silver.fact_voice_sessions.end_reason is 'leave, switch (moved to another channel) or reconcile (closed when the bot found the person gone after reconnecting); empty while open.';

-- Gold: daily active users.
create table gold.daily_active_users (
    day date primary key,
    dau_total integer not null,
    dau_voice integer not null,
    computed_at timestamptz not null default now()
);
comment on table gold.daily_active_users is 'Distinct active persons per local day in the community time zone (setting timezone, default Europe/Berlin). Voice activity = at least one minute of non-AFK voice that day.';
comment on column gold.daily_active_users.day is 'Local calendar day in the community time zone.';
comment on column gold.daily_active_users.dau_total is 'Distinct persons active in any source that day (currently voice only).';
comment on column gold.daily_active_users.dau_voice is 'Distinct persons with at least 60 seconds of non-AFK voice that day; sessions crossing midnight count on each day they touch.';
comment on column gold.daily_active_users.computed_at is 'When this row was last recomputed.';

-- Use TimescaleDB for the raw time series when the extension is installed; plain
-- PostgreSQL works the same without it.
do $$
begin
    if exists (select 1 from pg_available_extensions where name = 'timescaledb') then
        create extension if not exists timescaledb;
        perform create_hypertable('bronze.discord_voice_events', 'occurred_at', migrate_data => true);
    end if;
end
$$;
