-- The channels and categories of each recorded guild as the bot last saw them: the names
-- the admin console's pickers show (AFK channels, excluded channels), never a raw id.
create table app.discord_channels (
    guild_id bigint not null,
    channel_id bigint not null,
    name text not null,
    kind text not null check (kind in ('text', 'voice', 'category', 'announcement', 'stage', 'forum', 'other')),
    parent_id bigint,
    position integer not null default 0,
    deleted boolean not null default false,
    updated_at timestamptz not null default now(),
    primary key (guild_id, channel_id)
);
comment on table app.discord_channels is 'Channels and categories of each recorded guild as the bot last saw them (for the admin console''s pickers).';
comment on column app.discord_channels.kind is 'text, voice, category, announcement, stage, forum or other.';
comment on column app.discord_channels.parent_id is 'The category the channel is in.';
comment on column app.discord_channels.deleted is 'Deleted in Discord since (kept so that old marks still show a name).';
