-- voice_sessions: bronze.discord_voice_events -> silver.fact_voice_sessions
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.from_id, guildhall.to_id   bronze event ids in (from_id, to_id] are new
--   guildhall.range_from, guildhall.range_to
--                                        a span [range_from, range_to) to recompute; empty
--                                        otherwise. Its sessions' AFK flags are evaluated
--                                        again (an AFK setting changed) and, in a backfill,
--   guildhall.rebuild                    ('true') every account with events in the span is
--                                        rebuilt from bronze.
-- Bronze retention (app.bronze_retention) deleted events older than its horizon, except
-- those of sessions still running then: a rebuild never starts before what bronze still
-- holds, so retention never loses a session.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz) where
-- dirty_from is the earliest instant whose downstream results may have changed.

-- A run may repeat in one transaction (one span after another).
drop table if exists voice_rebuild, voice_inserted;

-- 1. Which accounts to rebuild, and from when: from the earliest session that is still
--    open or ends at/after the account's first new event (that session's end may change),
--    otherwise from the first new event itself (the account was out of voice before it).
create temp table voice_rebuild on commit drop as
with new_events as (
    select guild_id, user_id, occurred_at
    from bronze.discord_voice_events
    where event_id > current_setting('guildhall.from_id')::bigint
      and event_id <= current_setting('guildhall.to_id')::bigint
    union all
    select guild_id, user_id, occurred_at
    from bronze.discord_voice_events
    where current_setting('guildhall.rebuild') = 'true'
      and nullif(current_setting('guildhall.range_from'), '') is not null
      and occurred_at >= nullif(current_setting('guildhall.range_from'), '')::timestamptz
      and occurred_at < nullif(current_setting('guildhall.range_to'), '')::timestamptz
),
affected as (
    select guild_id, user_id, min(occurred_at) as first_new
    from new_events
    group by guild_id, user_id
),
retention as (
    select retained_from from app.bronze_retention
    where table_name = 'bronze.discord_voice_events'
)
select
    a.guild_id,
    a.user_id,
    greatest(
        least(
            a.first_new,
            -- A member's sessions never overlap: only the last one that started before
            -- the first new event can still be running then (one backward index probe,
            -- whatever the member's history).
            (select case when s.ended_at is null or s.ended_at >= a.first_new
                         then s.started_at end
             from silver.fact_voice_sessions s
             where s.guild_id = a.guild_id
               and s.discord_user_id = a.user_id
               and s.started_at < a.first_new
             order by s.started_at desc
             limit 1)
        ),
        -- What bronze still holds of this account: everything from the retention horizon,
        -- and a session running at the horizon from its start.
        coalesce(
            (select least(r.retained_from,
                          (select min(s.started_at)
                           from silver.fact_voice_sessions s
                           where s.guild_id = a.guild_id
                             and s.discord_user_id = a.user_id
                             and (s.ended_at is null or s.ended_at >= r.retained_from)))
             from retention r),
            '-infinity')
    ) as rebuild_from
from affected a;

-- 2. Every Discord account becomes a person on first sight (identity linking merges later).
select silver.ensure_discord_persons(array(select distinct user_id from voice_rebuild));

-- 3. Drop the sessions being rebuilt.
delete from silver.fact_voice_sessions s
using voice_rebuild r
where s.guild_id = r.guild_id
  and s.discord_user_id = r.user_id
  and s.started_at >= r.rebuild_from;

-- 4. Rebuild them from the events.
create temp table voice_inserted (n bigint) on commit drop;
with events as (
    select e.guild_id, e.user_id, e.channel_id, e.origin, e.occurred_at, e.event_id
    from voice_rebuild r
    join bronze.discord_voice_events e
      on e.guild_id = r.guild_id
     and e.user_id = r.user_id
     and e.occurred_at >= r.rebuild_from
),
-- Only updates that change the channel matter: mute/deafen do not split a session.
changes as (
    select *,
           lag(channel_id) over (partition by guild_id, user_id order by occurred_at, event_id) as previous_channel
    from events
),
transitions as (
    select * from changes where channel_id is distinct from previous_channel
),
-- Each transition into a channel starts a session that the next transition ends: a leave
-- (next channel empty), a switch (next channel set, same instant) or a reconciliation.
sessions as (
    select guild_id, user_id, channel_id,
           occurred_at as started_at,
           lead(occurred_at) over w as ended_at,
           lead(channel_id) over w as next_channel,
           lead(origin) over w as next_origin
    from transitions
    window w as (partition by guild_id, user_id order by occurred_at, event_id)
),
inserted as (
    insert into silver.fact_voice_sessions
        (guild_id, discord_user_id, started_at, person_id, channel_id, ended_at, is_afk, end_reason)
    select s.guild_id, s.user_id, s.started_at, i.person_id, s.channel_id, s.ended_at,
           -- AFK when the channel counted as AFK (Discord's or admin-marked) as it started.
           exists (select 1 from silver.afk_channel_periods p
                   where p.guild_id = s.guild_id and p.channel_id = s.channel_id
                     and s.started_at >= p.valid_from and s.started_at < p.valid_to),
           case
               when s.ended_at is null then null
               when s.next_origin = 'reconcile' and s.next_channel is null then 'reconcile'
               when s.next_channel is null then 'leave'
               else 'switch'
           end
    from sessions s
    join silver.user_identities i on i.kind = 'discord' and i.external_id = s.user_id::text
    where s.channel_id is not null
      -- Two updates at the same instant leave no time in the first channel.
      and (s.ended_at is null or s.ended_at > s.started_at)
    returning 1
)
insert into voice_inserted select count(*) from inserted;

-- 5. AFK flags of the span's sessions, evaluated again: an AFK channel setting changed.
--    Only silver is read, so sessions whose bronze events are gone keep their history.
with rechecked as (
    update silver.fact_voice_sessions s
    set is_afk = exists (select 1 from silver.afk_channel_periods p
                         where p.guild_id = s.guild_id and p.channel_id = s.channel_id
                           and s.started_at >= p.valid_from and s.started_at < p.valid_to)
    where nullif(current_setting('guildhall.range_from'), '') is not null
      and (s.ended_at is null
           or s.ended_at > nullif(current_setting('guildhall.range_from'), '')::timestamptz)
      and s.started_at < nullif(current_setting('guildhall.range_to'), '')::timestamptz
      and s.is_afk is distinct from exists (
          select 1 from silver.afk_channel_periods p
          where p.guild_id = s.guild_id and p.channel_id = s.channel_id
            and s.started_at >= p.valid_from and s.started_at < p.valid_to)
    returning s.started_at
)
select ((select n from voice_inserted) + (select count(*) from rechecked))::bigint as rows,
       least((select min(rebuild_from) from voice_rebuild),
             (select min(started_at) from rechecked)) as dirty_from,
       null::timestamptz as dirty_to;
