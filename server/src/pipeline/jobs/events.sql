-- events: bronze.discord_scheduled_events, silver.fact_voice_sessions
--         -> silver.dim_events, silver.event_participants, gold.event_attendance
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.day_to   local days whose voice changed (and the last two)
--   guildhall.tz                           the community's IANA time zone
-- Recomputes every event the bot observed something of in those days, and every event
-- whose attendance window overlaps them (its voice may have changed). A person attended
-- when they spent at least 10 minutes of non-AFK voice in the event's channel (external
-- events: any voice channel of the guild) between start - 15 minutes and end + 15 minutes
-- (no end: start + 2 hours). An open session counts until the guild was last observed.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz); nothing
-- reads these tables, so the span is empty.

drop table if exists touched_events;

create temp table touched_events on commit drop as
with bounds as (
    select current_setting('guildhall.day_from')::date::timestamp
               at time zone current_setting('guildhall.tz') as t0,
           (current_setting('guildhall.day_to')::date + 1)::timestamp
               at time zone current_setting('guildhall.tz') as t1
)
select distinct b.scheduled_event_id
from bronze.discord_scheduled_events b, bounds
where b.observed_at >= bounds.t0 and b.observed_at < bounds.t1
union
select e.scheduled_event_id
from silver.dim_events e, bounds
where e.window_from < bounds.t1 and e.window_to > bounds.t0;

-- Interested accounts become persons on first sight, as everywhere else.
select silver.ensure_discord_persons(array(
    select distinct b.user_id
    from bronze.discord_scheduled_events b
    join touched_events t using (scheduled_event_id)
    where b.user_id is not null));

drop table if exists event_state;

create temp table event_state on commit drop as
with latest_change as (
    select distinct on (b.scheduled_event_id)
           b.scheduled_event_id, b.change, b.observed_at
    from bronze.discord_scheduled_events b
    join touched_events t using (scheduled_event_id)
    where b.change in ('create', 'update', 'delete', 'sync', 'gone')
    order by b.scheduled_event_id, b.observed_at desc, b.change_id desc
),
latest_description as (
    select distinct on (b.scheduled_event_id)
           b.scheduled_event_id, b.guild_id, b.name, b.channel_id, b.kind, b.status,
           b.starts_at, b.ends_at
    from bronze.discord_scheduled_events b
    join touched_events t using (scheduled_event_id)
    where b.change in ('create', 'update', 'delete', 'sync') and b.starts_at is not null
    order by b.scheduled_event_id, b.observed_at desc, b.change_id desc
)
select d.scheduled_event_id, d.guild_id, d.name, d.channel_id, d.kind,
       case
           when c.change = 'delete' then 'deleted'
           -- No longer listed when the guild became available again: it ended (or was
           -- cancelled before it began) while the bot was away.
           when c.change = 'gone' and d.status in ('scheduled', 'active') then
               case when d.starts_at <= c.observed_at then 'completed' else 'canceled' end
           else d.status
       end as status,
       d.starts_at, d.ends_at,
       d.starts_at - interval '15 minutes' as window_from,
       coalesce(d.ends_at + interval '15 minutes', d.starts_at + interval '2 hours') as window_to
from latest_description d
join latest_change c using (scheduled_event_id);

insert into silver.dim_events
    (scheduled_event_id, guild_id, name, channel_id, kind, status, starts_at, ends_at,
     window_from, window_to, updated_at)
select scheduled_event_id, guild_id, name, channel_id, kind, status, starts_at, ends_at,
       window_from, window_to, now()
from event_state
on conflict (scheduled_event_id) do update
    set guild_id = excluded.guild_id,
        name = excluded.name,
        channel_id = excluded.channel_id,
        kind = excluded.kind,
        status = excluded.status,
        starts_at = excluded.starts_at,
        ends_at = excluded.ends_at,
        window_from = excluded.window_from,
        window_to = excluded.window_to,
        updated_at = excluded.updated_at
    where (silver.dim_events.guild_id, silver.dim_events.name, silver.dim_events.channel_id,
           silver.dim_events.kind, silver.dim_events.status, silver.dim_events.starts_at,
           silver.dim_events.ends_at)
          is distinct from
          (excluded.guild_id, excluded.name, excluded.channel_id, excluded.kind,
           excluded.status, excluded.starts_at, excluded.ends_at);

drop table if exists event_people;

create temp table event_people on commit drop as
with interest as (
    select distinct on (b.scheduled_event_id, b.user_id)
           b.scheduled_event_id, b.user_id, b.change <> 'user_remove' as interested
    from bronze.discord_scheduled_events b
    join touched_events t using (scheduled_event_id)
    where b.user_id is not null
    order by b.scheduled_event_id, b.user_id, b.observed_at desc, b.change_id desc
),
interested_persons as (
    select distinct i.scheduled_event_id, u.person_id
    from interest i
    join silver.user_identities u on u.kind = 'discord' and u.external_id = i.user_id::text
    where i.interested
),
voice as (
    select e.scheduled_event_id, u.person_id,
           sum(extract(epoch from
                   least(coalesce(s.ended_at, greatest(g.observed_until, s.started_at)), e.window_to)
                   - greatest(s.started_at, e.window_from)))::bigint as seconds
    from event_state e
    join silver.fact_voice_sessions s
      on s.guild_id = e.guild_id
     and (e.kind = 'external' or s.channel_id = e.channel_id)
     and not s.is_afk
     and s.started_at < e.window_to
     and (s.ended_at is null or s.ended_at > e.window_from)
    left join app.discord_guilds g on g.guild_id = s.guild_id
    join silver.user_identities u
      on u.kind = 'discord' and u.external_id = s.discord_user_id::text
    where e.status <> 'deleted'
    group by e.scheduled_event_id, u.person_id
)
select coalesce(i.scheduled_event_id, v.scheduled_event_id) as scheduled_event_id,
       coalesce(i.person_id, v.person_id) as person_id,
       i.person_id is not null as interested,
       coalesce(v.seconds, 0) >= 600 as attended,
       greatest(coalesce(v.seconds, 0), 0) as voice_seconds
from interested_persons i
full join (select * from voice where seconds > 0) v
  on v.scheduled_event_id = i.scheduled_event_id and v.person_id = i.person_id;

delete from silver.event_participants p
using touched_events t
where p.scheduled_event_id = t.scheduled_event_id
  and not exists (select 1 from event_people n
                  where n.scheduled_event_id = p.scheduled_event_id
                    and n.person_id = p.person_id);

insert into silver.event_participants
    (scheduled_event_id, person_id, interested, attended, voice_seconds)
select scheduled_event_id, person_id, interested, attended, voice_seconds
from event_people
where scheduled_event_id in (select scheduled_event_id from event_state)
on conflict (scheduled_event_id, person_id) do update
    set interested = excluded.interested,
        attended = excluded.attended,
        voice_seconds = excluded.voice_seconds
    where (silver.event_participants.interested, silver.event_participants.attended,
           silver.event_participants.voice_seconds)
          is distinct from
          (excluded.interested, excluded.attended, excluded.voice_seconds);

-- Deleted events leave the gold table; the others are summarised again.
delete from gold.event_attendance a
using event_state e
where a.scheduled_event_id = e.scheduled_event_id and e.status = 'deleted';

with summary as (
    select e.scheduled_event_id, e.guild_id, e.name, e.kind, e.status, e.starts_at, e.ends_at,
           count(*) filter (where p.interested)::int as interested,
           count(*) filter (where p.attended)::int as attended,
           count(*) filter (where p.interested and p.attended)::int as interested_attended,
           count(*) filter (where p.interested and not p.attended)::int as no_shows,
           count(*) filter (where p.attended and not p.interested)::int as walk_ins
    from event_state e
    left join silver.event_participants p on p.scheduled_event_id = e.scheduled_event_id
    where e.status <> 'deleted'
    group by e.scheduled_event_id, e.guild_id, e.name, e.kind, e.status, e.starts_at, e.ends_at
),
upserted as (
    insert into gold.event_attendance
        (scheduled_event_id, guild_id, name, kind, status, starts_at, ends_at, interested,
         attended, interested_attended, no_shows, walk_ins, attendance_rate, computed_at)
    select scheduled_event_id, guild_id, name, kind, status, starts_at, ends_at, interested,
           attended, interested_attended, no_shows, walk_ins,
           round(100.0 * interested_attended / nullif(interested, 0), 2), now()
    from summary
    on conflict (scheduled_event_id) do update
        set guild_id = excluded.guild_id,
            name = excluded.name,
            kind = excluded.kind,
            status = excluded.status,
            starts_at = excluded.starts_at,
            ends_at = excluded.ends_at,
            interested = excluded.interested,
            attended = excluded.attended,
            interested_attended = excluded.interested_attended,
            no_shows = excluded.no_shows,
            walk_ins = excluded.walk_ins,
            attendance_rate = excluded.attendance_rate,
            computed_at = excluded.computed_at
        where (gold.event_attendance.name, gold.event_attendance.kind,
               gold.event_attendance.status, gold.event_attendance.starts_at,
               gold.event_attendance.ends_at, gold.event_attendance.interested,
               gold.event_attendance.attended, gold.event_attendance.interested_attended)
              is distinct from
              (excluded.name, excluded.kind, excluded.status, excluded.starts_at,
               excluded.ends_at, excluded.interested, excluded.attended,
               excluded.interested_attended)
    returning 1
)
select (select count(*) from upserted)::bigint as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
