-- Which guilds the bot records, as admins decide on the admin page. Without a decision a
-- guild follows the configuration (GUILDHALL_DISCORD__GUILDS: the listed guilds, or every
-- guild when the list is empty).
create table app.discord_guild_tracking (
    guild_id bigint primary key,
    tracked boolean not null,
    updated_by bigint references app.users (id) on delete set null,
    updated_at timestamptz not null default now()
);
comment on table app.discord_guild_tracking is 'Admins'' decisions which guilds the bot records (others follow the configuration).';

-- Every guild the bot is in, tracked or not (the admin's list); `tracked` is what the bot
-- applies now.
alter table app.discord_guilds add column tracked boolean not null default true;
comment on column app.discord_guilds.tracked is 'The bot records this guild now (configuration or the admin''s decision).';
