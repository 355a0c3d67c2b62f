-- The signed-in member's non-AFK voice over the last 30 days: the minutes, and the local days
-- with at least a minute of it.
-- $1: their Discord user id; $2: the community's time zone.
with mine as (
    -- Non-AFK sessions of the last 30 days, clipped to that window; open ones count
    -- until the bot last observed their guild.
    select greatest(s.started_at, now() - interval '30 days') as started_at,
           least(coalesce(s.ended_at, greatest(g.observed_until, s.started_at)), now())
               as ended_at
    from silver.fact_voice_sessions s
    left join app.discord_guilds g on g.guild_id = s.guild_id
    where s.discord_user_id = $1 and not s.is_afk
      and (s.ended_at is null or s.ended_at > now() - interval '30 days')
),
pieces as (
    -- Split at local midnights, as the DAU job does.
    select d::date as day,
           greatest(extract(epoch from
               least(m.ended_at, (d::date + 1)::timestamp at time zone $2)
               - greatest(m.started_at, d::date::timestamp at time zone $2)), 0) as seconds
    from mine m
    cross join lateral generate_series((m.started_at at time zone $2)::date,
                                       (m.ended_at at time zone $2)::date,
                                       interval '1 day') d
    where m.ended_at > m.started_at
)
select floor(coalesce(sum(seconds), 0) / 60)::bigint,
       array(select day from pieces group by day having sum(seconds) >= 60)
from pieces
