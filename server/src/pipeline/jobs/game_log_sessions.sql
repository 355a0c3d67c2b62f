-- game_log_sessions: bronze.game_log_events -> silver.fact_game_sessions (source 'log')
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.from_id, guildhall.to_id   bronze event ids in (from_id, to_id] are new
--   guildhall.range_from, guildhall.range_to
--                                        a span [range_from, range_to) to rebuild (a
--                                        backfill, or a server's settings changed); empty
--                                        otherwise
-- A session starts when a player enters the game and ends at their disconnect (or leave),
-- or when the server stops or starts again (a crash leaves no disconnects). Minecraft lines
-- name the player only; the UUID comes from the latest "UUID of player" line of that name
-- on that server. Bots never count. Servers whose logs Guildhall does not receive are left
-- to game_status_sessions.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

drop table if exists game_log_rebuild, game_log_inserted;

-- 1. Which servers to rebuild, and from when: from the first new event, or from the start
--    of a session that is still open or ended at/after it (its end may change).
create temp table game_log_rebuild on commit drop as
with new_events as (
    select server_id, occurred_at
    from bronze.game_log_events
    where event_id > current_setting('guildhall.from_id')::bigint
      and event_id <= current_setting('guildhall.to_id')::bigint
      and kind in ('entered', 'disconnected', 'left', 'server_start', 'server_stop', 'account')
    union all
    select e.server_id, greatest(e.first_at, nullif(current_setting('guildhall.range_from'), '')::timestamptz)
    from (select server_id, min(occurred_at) as first_at
          from bronze.game_log_events
          where nullif(current_setting('guildhall.range_from'), '') is not null
            and occurred_at >= nullif(current_setting('guildhall.range_from'), '')::timestamptz
            and occurred_at < nullif(current_setting('guildhall.range_to'), '')::timestamptz
          group by server_id) e
),
affected as (
    select server_id, min(occurred_at) as first_new
    from new_events
    group by server_id
)
select a.server_id,
       least(a.first_new,
             (select min(s.started_at)
              from silver.fact_game_sessions s
              where s.server_id = a.server_id
                and s.source = 'log'
                and (s.ended_at is null or s.ended_at >= a.first_new))) as rebuild_from
from affected a;

-- 2. The events from there on, each player named by their account.
create temp table game_log_inserted on commit drop as
with events as (
    select e.server_id, e.occurred_at, e.line_hash, e.kind, e.player_name, e.is_bot,
           case
               when e.account_id is not null then e.account_kind
               when e.player_name is null then null
               else (select 'minecraft' from bronze.game_log_events a
                     where a.server_id = e.server_id and a.kind = 'account'
                       and a.player_name = e.player_name and a.occurred_at <= e.occurred_at
                     limit 1)
           end as account_kind,
           coalesce(e.account_id,
                    case when e.player_name is not null then
                        (select a.account_id from bronze.game_log_events a
                         where a.server_id = e.server_id and a.kind = 'account'
                           and a.player_name = e.player_name and a.occurred_at <= e.occurred_at
                         order by a.occurred_at desc
                         limit 1)
                    end) as account_id
    from game_log_rebuild r
    join bronze.game_log_events e
      on e.server_id = r.server_id
     and e.occurred_at >= r.rebuild_from
     and e.kind in ('entered', 'disconnected', 'left', 'server_start', 'server_stop')
    where not e.is_bot
),
keyed as (
    select *,
           case when kind in ('server_start', 'server_stop') then null
                when account_id is not null then account_kind || ':' || account_id
                else 'name:' || player_name end as player_key,
           -- A server stop or start closes every session of the epoch before it.
           sum(case when kind in ('server_start', 'server_stop') then 1 else 0 end)
               over (partition by server_id order by occurred_at, line_hash) as epoch
    from events
),
player_events as (
    select *,
           lag(kind) over (partition by server_id, player_key, epoch
                           order by occurred_at, line_hash) as previous_kind
    from keyed
    where player_key is not null
),
-- Entries and exits alternate once repeats are dropped: the n-th entry pairs with the n-th
-- exit of the same player and epoch.
entries as (
    select *, row_number() over (partition by server_id, player_key, epoch
                                 order by occurred_at, line_hash) as n
    from player_events
    where kind = 'entered' and previous_kind is distinct from 'entered'
),
exits as (
    select *, row_number() over (partition by server_id, player_key, epoch
                                 order by occurred_at, line_hash) as n
    from player_events
    where kind in ('disconnected', 'left') and previous_kind = 'entered'
),
boundaries as (
    select server_id, epoch, min(occurred_at) as occurred_at
    from keyed
    where kind in ('server_start', 'server_stop')
    group by server_id, epoch
),
sessions as (
    select en.server_id, en.player_key, en.account_kind, en.account_id, en.player_name,
           en.occurred_at as started_at,
           coalesce(ex.occurred_at, b.occurred_at) as ended_at,
           case when ex.occurred_at is not null then 'disconnect'
                when b.occurred_at is not null then 'server_stop' end as end_reason
    from entries en
    left join exits ex
      on ex.server_id = en.server_id and ex.player_key = en.player_key
     and ex.epoch = en.epoch and ex.n = en.n
    left join boundaries b on b.server_id = en.server_id and b.epoch = en.epoch + 1
)
select * from sessions;

-- 3. Every game account becomes a person on first sight (identity linking merges later).
select silver.ensure_game_persons('steam', array(
    select distinct account_id from game_log_inserted where account_kind = 'steam'));
select silver.ensure_game_persons('minecraft', array(
    select distinct account_id from game_log_inserted where account_kind = 'minecraft'));

-- 4. Replace the rebuilt sessions.
delete from silver.fact_game_sessions s
using game_log_rebuild r
where s.server_id = r.server_id
  and s.source = 'log'
  and s.started_at >= r.rebuild_from;

insert into silver.fact_game_sessions
    (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id,
     player_name, source, end_reason)
select g.server_id, g.player_key, g.started_at, g.ended_at, g.account_kind, g.account_id,
       i.person_id, g.player_name, 'log', g.end_reason
from game_log_inserted g
left join silver.user_identities i on i.kind = g.account_kind and i.external_id = g.account_id
on conflict (server_id, player_key, started_at) do update
    set ended_at = excluded.ended_at, account_kind = excluded.account_kind,
        account_id = excluded.account_id, person_id = excluded.person_id,
        player_name = excluded.player_name, source = excluded.source,
        end_reason = excluded.end_reason;

-- 5. Until when each server was heard from.
insert into silver.game_server_heard (server_id, heard_until)
select e.server_id, max(e.occurred_at)
from bronze.game_log_events e
join game_log_rebuild r on r.server_id = e.server_id and e.occurred_at >= r.rebuild_from
group by e.server_id
on conflict (server_id) do update
    set heard_until = greatest(silver.game_server_heard.heard_until, excluded.heard_until);

select (select count(*) from game_log_inserted)::bigint as rows,
       (select min(rebuild_from) from game_log_rebuild) as dirty_from,
       null::timestamptz as dirty_to;
