-- activity_daily: silver.fact_voice_sessions, silver.fact_chat_daily, silver.fact_game_sessions
--                 -> silver.activity_daily
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days to recompute, inclusive
--   guildhall.tz                           the community's IANA time zone
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz): the first
-- and last local day whose rows changed, as instants (for the KPI jobs downstream).

with days as (
    select d::date as day
    from generate_series(current_setting('guildhall.day_from')::date,
                         current_setting('guildhall.day_to')::date,
                         interval '1 day') d
),
range as (
    -- The recomputed days as instants (local midnights; DST days have 23 or 25 hours).
    select current_setting('guildhall.day_from')::date::timestamp
               at time zone current_setting('guildhall.tz') as range_start,
           (current_setting('guildhall.day_to')::date + 1)::timestamp
               at time zone current_setting('guildhall.tz') as range_end
),
-- Sessions touching the range, found by their end (closed ones ending after the range
-- starts, plus the open ones), so the cost follows recent activity, not history.
candidates as (
    select s.*
    from silver.fact_voice_sessions s, range r
    where s.ended_at > r.range_start and s.started_at < r.range_end
    union all
    select s.*
    from silver.fact_voice_sessions s, range r
    where s.ended_at is null and s.started_at < r.range_end
),
-- Non-AFK time only. Open sessions count until the bot last observed their guild.
sessions as (
    select s.discord_user_id,
           s.started_at,
           coalesce(s.ended_at, greatest(g.observed_until, s.started_at), s.started_at) as ended_at
    from candidates s
    left join app.discord_guilds g on g.guild_id = s.guild_id
    where not s.is_afk
),
-- Each session split at local midnights: one piece per recomputed day it touches.
pieces as (
    select p.day, s.discord_user_id,
           greatest(extract(epoch from
               least(s.ended_at, (p.day + 1)::timestamp at time zone current_setting('guildhall.tz'))
               - greatest(s.started_at, p.day::timestamp at time zone current_setting('guildhall.tz'))), 0)
               as seconds
    from sessions s
    cross join lateral (
        select d::date as day
        from generate_series(greatest((s.started_at at time zone current_setting('guildhall.tz'))::date,
                                      current_setting('guildhall.day_from')::date),
                             least((s.ended_at at time zone current_setting('guildhall.tz'))::date,
                                   current_setting('guildhall.day_to')::date),
                             interval '1 day') d
    ) p
),
voice as (
    select day, discord_user_id, floor(sum(seconds))::bigint as voice_seconds
    from pieces
    group by day, discord_user_id
    having sum(seconds) > 0
),
chat as (
    select day, discord_user_id, sum(messages)::int as messages
    from silver.fact_chat_daily
    where day between current_setting('guildhall.day_from')::date
                  and current_setting('guildhall.day_to')::date
    group by day, discord_user_id
),
-- Game sessions of named accounts touching the range; open ones count until their server
-- was last heard from.
-- (found by their end, as the voice sessions above, so the cost follows recent activity)
game_candidates as (
    select s.*
    from silver.fact_game_sessions s, range r
    where s.ended_at > r.range_start and s.started_at < r.range_end
    union all
    select s.*
    from silver.fact_game_sessions s, range r
    where s.ended_at is null and s.started_at < r.range_end
),
game_sessions as (
    select s.account_kind, s.account_id, s.started_at,
           coalesce(s.ended_at, greatest(h.heard_until, s.started_at)) as ended_at
    from game_candidates s
    left join silver.game_server_heard h on h.server_id = s.server_id
    where s.account_id is not null
),
game_pieces as (
    select p.day, s.account_kind, s.account_id,
           greatest(extract(epoch from
               least(s.ended_at, (p.day + 1)::timestamp at time zone current_setting('guildhall.tz'))
               - greatest(s.started_at, p.day::timestamp at time zone current_setting('guildhall.tz'))), 0)
               as seconds
    from game_sessions s
    cross join lateral (
        select d::date as day
        from generate_series(greatest((s.started_at at time zone current_setting('guildhall.tz'))::date,
                                      current_setting('guildhall.day_from')::date),
                             least((s.ended_at at time zone current_setting('guildhall.tz'))::date,
                                   current_setting('guildhall.day_to')::date),
                             interval '1 day') d
    ) p
),
game as (
    select day, account_kind, account_id, floor(sum(seconds))::bigint as game_seconds
    from game_pieces
    group by day, account_kind, account_id
    having sum(seconds) > 0
),
-- Every source's contribution per account and day.
contributions as (
    select day, 'discord'::text as account_kind, discord_user_id::text as account_id,
           sum(voice_seconds)::bigint as voice_seconds, sum(messages)::int as messages,
           0::bigint as game_seconds
    from (select day, discord_user_id, voice_seconds, 0 as messages from voice
          union all
          select day, discord_user_id, 0, messages from chat) sources
    group by day, discord_user_id
    union all
    select day, account_kind, account_id, 0, 0, game_seconds
    from game
),
-- The person each account belongs to now.
resolved as (
    select c.*, i.person_id
    from contributions c
    join silver.user_identities i
      on i.kind = c.account_kind and i.external_id = c.account_id
),
removed as (
    delete from silver.activity_daily a
    where a.day between current_setting('guildhall.day_from')::date
                    and current_setting('guildhall.day_to')::date
      and not exists (select 1 from resolved r
                      where r.day = a.day and r.account_kind = a.account_kind
                        and r.account_id = a.account_id)
    returning a.day
),
upserted as (
    insert into silver.activity_daily
        (day, account_kind, account_id, person_id, voice_seconds, messages, game_seconds, computed_at)
    select day, account_kind, account_id, person_id, voice_seconds, messages, game_seconds, now()
    from resolved
    on conflict (day, account_kind, account_id) do update
        set person_id = excluded.person_id,
            voice_seconds = excluded.voice_seconds,
            messages = excluded.messages,
            game_seconds = excluded.game_seconds,
            computed_at = excluded.computed_at
        -- Unchanged rows stay untouched, so a second run changes nothing.
        where (silver.activity_daily.person_id, silver.activity_daily.voice_seconds,
               silver.activity_daily.messages, silver.activity_daily.game_seconds)
              is distinct from
              (excluded.person_id, excluded.voice_seconds, excluded.messages, excluded.game_seconds)
    returning day
),
changed as (
    select day from removed
    union all
    select day from upserted
)
select (select count(*) from changed)::bigint as rows,
       (select min(day) from changed)::timestamp at time zone current_setting('guildhall.tz')
           as dirty_from,
       (select max(day) + 1 from changed)::timestamp at time zone current_setting('guildhall.tz')
           as dirty_to;
