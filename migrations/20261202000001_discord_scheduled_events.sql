-- Bronze: what the bot saw of each scheduled event and of who is interested in it. One row
-- per observation: an event created, updated or deleted; an event found listed (`sync`) or
-- no longer listed (`gone`: it ended or was removed while the bot was away) when a guild
-- became available; a user who marked themselves interested (`user_add`) or no longer
-- (`user_remove`), or was found interested by a synchronisation (`user_sync`).
create table bronze.discord_scheduled_events (
    change_id bigint generated always as identity,
    -- Idempotency key: the same observation written twice is stored once.
    source_key text not null,
    guild_id bigint not null,
    scheduled_event_id bigint not null,
    change text not null check (change in ('create', 'update', 'delete', 'sync', 'gone',
                                           'user_add', 'user_remove', 'user_sync')),
    -- The interested user (user_* changes only).
    user_id bigint,
    -- The event as Discord described it (event changes only).
    name text,
    channel_id bigint,
    kind text check (kind in ('stage', 'voice', 'external')),
    status text check (status in ('scheduled', 'active', 'completed', 'canceled')),
    starts_at timestamptz,
    ends_at timestamptz,
    origin text not null default 'gateway' check (origin in ('gateway', 'sync', 'demo')),
    observed_at timestamptz not null,
    ingested_at timestamptz not null default clock_timestamp(),
    primary key (observed_at, change_id),
    unique (observed_at, source_key)
);
create index discord_scheduled_events_event_idx
    on bronze.discord_scheduled_events (scheduled_event_id, observed_at);
comment on table bronze.discord_scheduled_events is 'Scheduled events and their interested users as the bot saw them: gateway events and what a synchronisation found.';

-- Silver: one row per scheduled event, as it stands now.
create table silver.dim_events (
    scheduled_event_id bigint primary key,
    guild_id bigint not null,
    name text not null,
    channel_id bigint,
    kind text not null check (kind in ('stage', 'voice', 'external')),
    status text not null check (status in ('scheduled', 'active', 'completed', 'canceled', 'deleted')),
    starts_at timestamptz not null,
    ends_at timestamptz,
    -- The window in which voice counts as attendance.
    window_from timestamptz not null,
    window_to timestamptz not null,
    updated_at timestamptz not null default now()
);
create index dim_events_starts_idx on silver.dim_events (starts_at);
comment on table silver.dim_events is 'Discord scheduled events: name, channel, start, end, status and kind.';
comment on column silver.dim_events.kind is 'stage, voice (in a voice channel) or external (somewhere else).';
comment on column silver.dim_events.status is 'scheduled, active, completed, canceled, or deleted (removed in Discord).';
comment on column silver.dim_events.ends_at is 'The scheduled end; empty when the event has none.';
comment on column silver.dim_events.window_from is 'Start - 15 minutes: voice from here on counts as attendance.';
comment on column silver.dim_events.window_to is 'End + 15 minutes (no end: start + 2 hours).';
comment on column silver.dim_events.updated_at is 'When this row last changed.';

-- Silver: per event and person, whether they were interested and whether they attended.
create table silver.event_participants (
    scheduled_event_id bigint not null references silver.dim_events (scheduled_event_id) on delete cascade,
    person_id bigint not null references silver.dim_user (person_id),
    interested boolean not null,
    attended boolean not null,
    voice_seconds bigint not null,
    primary key (scheduled_event_id, person_id)
);
create index event_participants_person_idx on silver.event_participants (person_id);
comment on table silver.event_participants is 'Who was interested in each scheduled event and who attended: at least 10 minutes of non-AFK voice in the event''s channel (external events: any tracked voice channel) within its window.';
comment on column silver.event_participants.interested is 'The person marked themselves interested in Discord (and still was).';
comment on column silver.event_participants.attended is 'At least 10 minutes of non-AFK voice in the window.';
comment on column silver.event_participants.voice_seconds is 'Non-AFK voice seconds inside the window.';

-- Gold: per event, interested against attended.
create table gold.event_attendance (
    scheduled_event_id bigint primary key,
    guild_id bigint not null,
    name text not null,
    kind text not null,
    status text not null,
    starts_at timestamptz not null,
    ends_at timestamptz,
    interested integer not null,
    attended integer not null,
    interested_attended integer not null,
    no_shows integer not null,
    walk_ins integer not null,
    attendance_rate numeric(5, 2),
    computed_at timestamptz not null default now()
);
create index event_attendance_starts_idx on gold.event_attendance (starts_at);
comment on table gold.event_attendance is 'Per scheduled event: persons interested, persons who attended, and both.';
comment on column gold.event_attendance.interested is 'Persons interested in the event.';
comment on column gold.event_attendance.attended is 'Persons who attended (observed in voice, see silver.event_participants).';
comment on column gold.event_attendance.interested_attended is 'Persons interested who attended.';
comment on column gold.event_attendance.no_shows is 'Persons interested who did not attend.';
comment on column gold.event_attendance.walk_ins is 'Persons who attended without being interested.';
comment on column gold.event_attendance.attendance_rate is 'interested_attended / interested in percent; empty without interested persons.';
comment on column gold.event_attendance.computed_at is 'When this row was last computed.';
comment on column silver.dim_events.scheduled_event_id is 'Discord id of the scheduled event.';
comment on column silver.dim_events.guild_id is 'Discord guild (server) id.';
comment on column silver.dim_events.name is 'The event''s name.';
comment on column silver.dim_events.channel_id is 'The voice or stage channel of the event; empty for external events.';
comment on column silver.dim_events.starts_at is 'The scheduled start.';
comment on column silver.event_participants.scheduled_event_id is 'The event (silver.dim_events).';
comment on column silver.event_participants.person_id is 'The person (silver.dim_user).';
comment on column gold.event_attendance.scheduled_event_id is 'Discord id of the scheduled event.';
comment on column gold.event_attendance.guild_id is 'Discord guild (server) id.';
comment on column gold.event_attendance.name is 'The event''s name.';
comment on column gold.event_attendance.kind is 'stage, voice or external.';
comment on column gold.event_attendance.status is 'scheduled, active, completed or canceled.';
comment on column gold.event_attendance.starts_at is 'The scheduled start.';
comment on column gold.event_attendance.ends_at is 'The scheduled end; empty when the event has none.';
