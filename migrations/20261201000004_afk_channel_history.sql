-- Which channels counted as AFK, and from when to when. Time in an AFK channel is never
-- activity; each AFK channel applies to the time it was valid, so a change never turns
-- past AFK time into activity or the other way round.

-- Bronze: every AFK channel the bot saw Discord report for a guild (null: none set), from
-- the moment it saw it. The first observation of a guild stands for all time before it.
create table bronze.discord_afk_channel_changes (
    change_id bigint generated always as identity,
    guild_id bigint not null,
    afk_channel_id bigint,
    observed_at timestamptz not null,
    primary key (observed_at, change_id)
);
create index discord_afk_channel_changes_guild_idx
    on bronze.discord_afk_channel_changes (guild_id, observed_at);

-- Channels an admin marked as AFK (several per guild), each for a span of time: from the
-- moment it was marked, or for all of history when the admin said so (`-infinity`).
create table app.afk_channels (
    id bigint generated always as identity primary key,
    guild_id bigint not null references app.discord_guilds (guild_id) on delete cascade,
    channel_id bigint not null,
    valid_from timestamptz not null,
    valid_to timestamptz,
    marked_by bigint references app.users (id) on delete set null,
    marked_at timestamptz not null default now(),
    check (valid_to is null or valid_to > valid_from)
);
create index afk_channels_guild_idx on app.afk_channels (guild_id, channel_id);

-- Silver: both kinds as one list of periods.
create view silver.afk_channel_periods as
with discord as (
    select guild_id, afk_channel_id,
           case when lag(observed_at) over w is null then '-infinity'::timestamptz
                else observed_at end as valid_from,
           coalesce(lead(observed_at) over w, 'infinity'::timestamptz) as valid_to
    from bronze.discord_afk_channel_changes
    window w as (partition by guild_id order by observed_at, change_id)
)
select guild_id, afk_channel_id as channel_id, valid_from, valid_to, 'discord'::text as source
from discord
where afk_channel_id is not null and valid_to > valid_from
union all
select guild_id, channel_id, valid_from, coalesce(valid_to, 'infinity'::timestamptz), 'admin'
from app.afk_channels;

comment on view silver.afk_channel_periods is
    'Channels that counted as AFK per guild and span of time: Discord''s AFK channel as the bot saw it change, and channels admins marked.';
comment on column silver.afk_channel_periods.guild_id is 'Discord guild id.';
comment on column silver.afk_channel_periods.channel_id is 'Discord channel id of the AFK channel.';
comment on column silver.afk_channel_periods.valid_from is 'First instant it counted as AFK (-infinity: always before).';
comment on column silver.afk_channel_periods.valid_to is 'First instant it no longer counted (infinity: still counts).';
comment on column silver.afk_channel_periods.source is 'discord (the guild''s AFK channel) or admin (marked on the admin page).';

-- A new AFK observation changes the sessions from its moment on: the pipeline recomputes
-- from there (the collector only records what it saw).
create function bronze.discord_afk_channel_changed() returns trigger
language plpgsql
as $$
begin
    perform app.request_recompute('voice_sessions',
        case
            -- The first observation of a guild stands for all time before it.
            when not exists (select 1 from bronze.discord_afk_channel_changes c
                             where c.guild_id = new.guild_id and c.change_id <> new.change_id)
                then (select min(occurred_at) from bronze.discord_voice_events
                      where guild_id = new.guild_id)
            else new.observed_at
        end);
    return new;
end
$$;
create trigger discord_afk_channel_changes_recompute
    after insert on bronze.discord_afk_channel_changes
    for each row execute function bronze.discord_afk_channel_changed();

-- What was known before: each guild's AFK channel as of the first time, and the admin
-- override, which applied to all of history.
insert into bronze.discord_afk_channel_changes (guild_id, afk_channel_id, observed_at)
select guild_id, afk_channel_id, updated_at from app.discord_guilds
where afk_channel_id is not null;
insert into app.afk_channels (guild_id, channel_id, valid_from)
select guild_id, afk_channel_override, '-infinity' from app.discord_guilds
where afk_channel_override is not null;
alter table app.discord_guilds drop column afk_channel_override;
