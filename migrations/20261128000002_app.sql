-- Users of the web app (signed in with Discord) and their roles.
create table app.users (
    id bigint generated always as identity primary key,
    discord_user_id bigint not null unique,
    username text not null,
    display_name text,
    avatar text,
    role text not null default 'member' check (role in ('admin', 'leader', 'member')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    last_login_at timestamptz
);

-- Browser sessions, in the layout tower-sessions-sqlx-store expects.
create table app.sessions (
    id text primary key not null,
    data bytea not null,
    expiry_date timestamptz not null
);
create index sessions_expiry_idx on app.sessions (expiry_date);

-- Discord guilds the bot tracks: what it learned from the gateway, the admin's
-- overrides, and until when the bot has observed the guild (open voice sessions are
-- counted up to that instant).
create table app.discord_guilds (
    guild_id bigint primary key,
    name text not null default '',
    afk_channel_id bigint,
    afk_channel_override bigint,
    observed_until timestamptz,
    updated_at timestamptz not null default now()
);

-- Incremental state of each pipeline job: the last bronze id it consumed and the
-- earliest instant whose downstream results must be recomputed.
create table app.pipeline_state (
    job text primary key,
    watermark bigint not null default 0,
    dirty_from timestamptz,
    updated_at timestamptz not null default now()
);

-- Every run of every job, successful or not.
create table app.pipeline_runs (
    id bigint generated always as identity primary key,
    job text not null,
    trigger text not null check (trigger in ('schedule', 'manual', 'backfill')),
    range_from timestamptz,
    range_to timestamptz,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    rows_affected bigint,
    duration_ms bigint,
    error text
);
create index pipeline_runs_job_started_idx on app.pipeline_runs (job, started_at desc);
