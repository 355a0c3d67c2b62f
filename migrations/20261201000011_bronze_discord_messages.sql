-- Bronze: the metadata of every message in tracked guilds (threads and forum posts
-- included; bots, webhooks and system messages excluded). Never the content: its length at
-- most, and only with Discord's message-content intent. A message id is stored once.
create table bronze.discord_messages (
    event_id bigint generated always as identity,
    message_id bigint not null,
    guild_id bigint not null,
    channel_id bigint not null,
    parent_channel_id bigint,
    author_id bigint not null,
    created_at timestamptz not null,
    char_count integer check (char_count >= 0),
    attachment_count integer not null default 0 check (attachment_count >= 0),
    is_reply boolean not null default false,
    ingested_at timestamptz not null default clock_timestamp(),
    -- The creation time comes from the id, so (created_at, message_id) is the message.
    primary key (created_at, message_id)
);
create index discord_messages_event_id_idx on bronze.discord_messages (event_id);
create index discord_messages_author_idx on bronze.discord_messages (guild_id, author_id, created_at);
comment on table bronze.discord_messages is 'Metadata of each message in tracked guilds, as the bot received it: never the content.';

-- Silver: messages and characters per account, guild, channel and local day.
create table silver.fact_chat_daily (
    day date not null,
    guild_id bigint not null,
    channel_id bigint not null,
    discord_user_id bigint not null,
    messages integer not null,
    characters bigint,
    attachments integer not null,
    replies integer not null,
    primary key (day, guild_id, channel_id, discord_user_id)
);
create index fact_chat_daily_user_idx on silver.fact_chat_daily (discord_user_id, day);
comment on table silver.fact_chat_daily is 'Messages per Discord account, channel and local day (community time zone). Threads and forum posts count in their parent channel. Edits and deletions do not change it.';
comment on column silver.fact_chat_daily.day is 'Local day in the community time zone.';
comment on column silver.fact_chat_daily.guild_id is 'Discord guild (server) id.';
comment on column silver.fact_chat_daily.channel_id is 'Text channel id (the parent channel for messages in threads and forum posts).';
comment on column silver.fact_chat_daily.discord_user_id is 'Discord user id of the author.';
comment on column silver.fact_chat_daily.messages is 'Messages sent.';
comment on column silver.fact_chat_daily.characters is 'Characters of those messages; empty when the bot has no message-content intent.';
comment on column silver.fact_chat_daily.attachments is 'Attachments of those messages.';
comment on column silver.fact_chat_daily.replies is 'How many of those messages were replies.';

alter table gold.daily_active_users
    add column dau_chat integer not null default 0;
comment on column gold.daily_active_users.dau_chat is 'Persons who sent at least one message that day.';
