-- game_status_sessions: bronze.game_status_snapshots -> silver.fact_game_sessions (source 'status')
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.from_id, guildhall.to_id   snapshot ids in (from_id, to_id] are new
--   guildhall.range_from, guildhall.range_to
--                                        a span [range_from, range_to) to rebuild; empty
--                                        otherwise
-- For servers without a log source only (their logs give exact sessions). A player seen in
-- consecutive polls is one session; a gap longer than two poll intervals ends it. It starts
-- when the first poll saw them minus the connected time the game printed (at most back to
-- the server's previous poll, or a day for the very first one) and ends at the last poll
-- that saw them.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

drop table if exists game_status_rebuild, game_status_inserted;

create temp table game_status_rebuild on commit drop as
with new_snapshots as (
    select server_id, polled_at
    from bronze.game_status_snapshots
    where event_id > current_setting('guildhall.from_id')::bigint
      and event_id <= current_setting('guildhall.to_id')::bigint
    union all
    select server_id, min(polled_at)
    from bronze.game_status_snapshots
    where nullif(current_setting('guildhall.range_from'), '') is not null
      and polled_at >= nullif(current_setting('guildhall.range_from'), '')::timestamptz
      and polled_at < nullif(current_setting('guildhall.range_to'), '')::timestamptz
    group by server_id
),
affected as (
    select n.server_id, min(n.polled_at) as first_new, g.poll_interval_secs
    from new_snapshots n
    join app.game_servers g on g.server_id = n.server_id and g.log_source = 'none'
    group by n.server_id, g.poll_interval_secs
)
select a.server_id, a.poll_interval_secs,
       least(a.first_new,
             (select min(s.started_at)
              from silver.fact_game_sessions s
              where s.server_id = a.server_id
                and s.source = 'status'
                and s.ended_at >= a.first_new - 2 * a.poll_interval_secs * interval '1 second')
       ) as rebuild_from
from affected a;

create temp table game_status_inserted on commit drop as
with polls as (
    select s.server_id, s.polled_at, s.players, r.poll_interval_secs,
           -- The poll before, even when it lies before the rebuilt span.
           (select max(b.polled_at) from bronze.game_status_snapshots b
            where b.server_id = s.server_id and b.polled_at < s.polled_at) as previous_poll,
           lead(s.polled_at) over (partition by s.server_id order by s.polled_at) as next_poll
    from game_status_rebuild r
    join bronze.game_status_snapshots s
      on s.server_id = r.server_id and s.polled_at >= r.rebuild_from
),
seen as (
    select p.server_id, p.polled_at, p.previous_poll, p.next_poll, p.poll_interval_secs,
           pl ->> 'name' as player_name,
           pl ->> 'account_kind' as account_kind,
           pl ->> 'account_id' as account_id,
           coalesce((pl ->> 'account_kind') || ':' || (pl ->> 'account_id'),
                    'name:' || (pl ->> 'name')) as player_key,
           (pl ->> 'connected_secs')::bigint as connected_secs
    from polls p
    cross join lateral jsonb_array_elements(p.players) pl
),
gaps as (
    select *,
           lag(polled_at) over w as previous_seen
    from seen
    window w as (partition by server_id, player_key order by polled_at)
),
marked as (
    select *,
           case when previous_seen is null
                  or polled_at - previous_seen > 2 * poll_interval_secs * interval '1 second'
                then 1 else 0 end as starts_session
    from gaps
),
numbered as (
    select *, sum(starts_session) over (partition by server_id, player_key order by polled_at) as session_no
    from marked
),
sessions as (
    select server_id, player_key, session_no,
           min(account_kind) as account_kind, min(account_id) as account_id,
           (array_agg(player_name order by polled_at desc))[1] as player_name,
           min(polled_at) as first_seen,
           max(polled_at) as last_seen,
           (array_agg(connected_secs order by polled_at))[1] as first_connected_secs,
           (array_agg(previous_poll order by polled_at))[1] as poll_before,
           (array_agg(next_poll order by polled_at desc))[1] as poll_after,
           max(poll_interval_secs) as poll_interval_secs
    from numbered
    group by server_id, player_key, session_no
)
select server_id, player_key, account_kind, account_id, player_name,
       first_seen - least(coalesce(first_connected_secs, 0) * interval '1 second',
                          coalesce(first_seen - poll_before, interval '1 day')) as started_at,
       last_seen as ended_at,
       -- Ended when a later poll no longer saw them (and none within two intervals did).
       -- Ended when a later poll no longer saw them; still online otherwise.
       case when poll_after is not null then 'gap' end as end_reason
from sessions;

select silver.ensure_game_persons('steam', array(
    select distinct account_id from game_status_inserted where account_kind = 'steam'));
select silver.ensure_game_persons('minecraft', array(
    select distinct account_id from game_status_inserted where account_kind = 'minecraft'));

delete from silver.fact_game_sessions s
using game_status_rebuild r
where s.server_id = r.server_id
  and s.source = 'status'
  and s.started_at >= least(r.rebuild_from,
                            (select min(g.started_at) from game_status_inserted g
                             where g.server_id = r.server_id));

insert into silver.fact_game_sessions
    (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id,
     player_name, source, end_reason)
select g.server_id, g.player_key, g.started_at, g.ended_at, g.account_kind, g.account_id,
       i.person_id, g.player_name, 'status', g.end_reason
from game_status_inserted g
left join silver.user_identities i on i.kind = g.account_kind and i.external_id = g.account_id
on conflict (server_id, player_key, started_at) do update
    set ended_at = excluded.ended_at, account_kind = excluded.account_kind,
        account_id = excluded.account_id, person_id = excluded.person_id,
        player_name = excluded.player_name, source = excluded.source,
        end_reason = excluded.end_reason;

insert into silver.game_server_heard (server_id, heard_until)
select s.server_id, max(s.polled_at)
from bronze.game_status_snapshots s
join game_status_rebuild r on r.server_id = s.server_id and s.polled_at >= r.rebuild_from
group by s.server_id
on conflict (server_id) do update
    set heard_until = greatest(silver.game_server_heard.heard_until, excluded.heard_until);

select (select count(*) from game_status_inserted)::bigint as rows,
       least((select min(rebuild_from) from game_status_rebuild),
             (select min(started_at) from game_status_inserted)) as dirty_from,
       null::timestamptz as dirty_to;
