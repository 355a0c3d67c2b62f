-- presence_hours: silver.fact_voice_sessions, silver.fact_game_sessions
--                 -> silver.voice_presence_hours, silver.game_presence_hours
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose sessions changed
--   guildhall.today                        the community's local today
--   guildhall.tz                           the community's IANA time zone
-- The clock hours (UTC) in which each Discord account was in non-AFK voice, and each game
-- account on a game server, for the changed days within the last 366: the hours of the
-- span are deleted and written again from the sessions that touch it (found by their end,
-- or open). Open voice sessions last until the bot last saw their guild, open game
-- sessions until their server was last heard from, as in activity_daily. Hours older than
-- 366 days are dropped.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

drop table if exists presence_span;

create temp table presence_span on commit drop as
select date_trunc('hour',
           greatest(current_setting('guildhall.day_from')::date,
                    current_setting('guildhall.today')::date - 366)::timestamp
               at time zone current_setting('guildhall.tz'),
           'UTC') as t0,
       (current_setting('guildhall.day_to')::date + 1)::timestamp
           at time zone current_setting('guildhall.tz') as t1,
       (current_setting('guildhall.today')::date - 366)::timestamp
           at time zone current_setting('guildhall.tz') as horizon;

with old_voice as (
    delete from silver.voice_presence_hours h using presence_span s
    where h.hour < s.horizon or (h.hour >= s.t0 and h.hour < s.t1)
    returning 1
),
old_game as (
    delete from silver.game_presence_hours h using presence_span s
    where h.hour < s.horizon or (h.hour >= s.t0 and h.hour < s.t1)
    returning 1
)
select (select count(*) from old_voice) + (select count(*) from old_game) as deleted;

with sessions as (
    select v.discord_user_id, v.started_at,
           coalesce(v.ended_at, greatest(g.observed_until, v.started_at), v.started_at) as until
    from silver.fact_voice_sessions v
    join presence_span s on v.ended_at > s.t0 and v.started_at < s.t1
    left join app.discord_guilds g on g.guild_id = v.guild_id
    where not v.is_afk
    union all
    select v.discord_user_id, v.started_at,
           greatest(g.observed_until, v.started_at)
    from silver.fact_voice_sessions v
    join presence_span s on v.ended_at is null and v.started_at < s.t1
    left join app.discord_guilds g on g.guild_id = v.guild_id
    where not v.is_afk
)
insert into silver.voice_presence_hours (hour, discord_user_id)
select distinct h.hour, x.discord_user_id
from sessions x
cross join presence_span s
cross join lateral generate_series(
    greatest(date_trunc('hour', x.started_at, 'UTC'), s.t0),
    least(x.until, s.t1) - interval '1 microsecond',
    interval '1 hour') h (hour)
on conflict do nothing;

with sessions as (
    select g.account_kind, g.account_id, g.started_at,
           coalesce(g.ended_at, heard.heard_until, g.started_at) as until
    from silver.fact_game_sessions g
    join presence_span s on g.ended_at > s.t0 and g.started_at < s.t1
    left join silver.game_server_heard heard on heard.server_id = g.server_id
    where g.account_kind in ('steam', 'minecraft')
    union all
    select g.account_kind, g.account_id, g.started_at,
           coalesce(heard.heard_until, g.started_at)
    from silver.fact_game_sessions g
    join presence_span s on g.ended_at is null and g.started_at < s.t1
    left join silver.game_server_heard heard on heard.server_id = g.server_id
    where g.account_kind in ('steam', 'minecraft')
)
insert into silver.game_presence_hours (account_kind, account_id, hour)
select distinct x.account_kind, x.account_id, h.hour
from sessions x
cross join presence_span s
cross join lateral generate_series(
    greatest(date_trunc('hour', x.started_at, 'UTC'), s.t0),
    least(x.until, s.t1) - interval '1 microsecond',
    interval '1 hour') h (hour)
on conflict do nothing;

select (select count(*) from silver.voice_presence_hours h, presence_span s
        where h.hour >= s.t0 and h.hour < s.t1)
       + (select count(*) from silver.game_presence_hours h, presence_span s
          where h.hour >= s.t0 and h.hour < s.t1) as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
